// Opening and closing a campaign, and taking roster changes into an open one. Usable without a running switch
// (the ops CLI calls these): every running instance learns of the change through PostgreSQL and pub/sub.
import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { CampaignError, requireCampaign } from '../campaigns.ts';
import { beneficiaryIdRange, materializePayouts } from './journal.ts';
import { serverError, withConnection } from './pg.ts';
import { RedisRecovery, type RebuildReport } from './recovery.ts';
import { CAMPAIGNS_CHANNEL, Reservations } from './reservations.ts';
import { refreshStatistics } from './statistics.ts';

export interface ControlDeps {
  db: Knex;
  redis: Redis;
  clock: Clock;
  logger: Logger;
}

/** Loading a whole campaign is not on the money path: it may take this long. */
const LOAD_TIMEOUT_MS = 10 * 60_000;
/** Beneficiaries refreshed per round trip. */
const REFRESH_CHUNK = 50_000;
/** Beneficiary ids per statement when a whole campaign's payout rows are created: each statement stays short. */
const MATERIALIZE_ID_SPAN = 100_000;

function recovery(d: ControlDeps): RedisRecovery {
  return new RedisRecovery({ db: d.db, reservations: new Reservations(d.redis), logger: d.logger });
}

/** A payout row for every beneficiary of the campaign, in id ranges, each its own statement. */
async function materializeCampaign(d: ControlDeps, code: string, now: Date): Promise<number> {
  const range = await withConnection(d.db, 'payouts', Date.now() + LOAD_TIMEOUT_MS, (q) => beneficiaryIdRange(q, code));
  if (!range) return 0;
  let total = 0;
  for (let from = range[0]; from <= range[1]; from += MATERIALIZE_ID_SPAN) {
    total += await withConnection(d.db, 'payouts', Date.now() + LOAD_TIMEOUT_MS, (q) =>
      materializePayouts(q, code, null, now, [from, from + MATERIALIZE_ID_SPAN]),
    );
  }
  return total;
}

/** Loads the campaign's entitlements into Redis, then opens it (operations.md: `campaign open`). */
export async function openCampaign(d: ControlDeps, code: string): Promise<RebuildReport> {
  const c = await requireCampaign(d.db, code);
  if (c.state === 'open') throw new CampaignError(`campaign ${code} is already open`);
  if (c.state === 'purged') throw new CampaignError(`campaign ${code} is purged: it cannot open again`);
  const other = await d.db('campaigns').where({ state: 'open' }).first('code');
  if (other) throw new CampaignError(`campaign ${other.code} is open: close it first (one campaign is open at a time)`);
  const now = d.clock.now();
  await materializeCampaign(d, code, now);
  // The switches' plans of the money path are remade from the payouts as they are now (statistics.ts). Not a reason
  // to refuse the open: the switches look again within seconds.
  await refreshStatistics(d.db, Date.now() + LOAD_TIMEOUT_MS, ['payouts']).catch((e) =>
    d.logger.warn('payouts not analyzed at open (the switches will)', { campaign: code, error: (e as Error).message }),
  );
  const report = await recovery(d).rebuild(code);
  if (!report) throw new CampaignError(`campaign ${code} is being loaded into Redis by another instance: try again shortly`);
  try {
    const n = await d.db('campaigns')
      .where({ code })
      .whereIn('state', ['draft', 'closed'])
      .update({ state: 'open', opened_at: now, closed_at: null, updated_at: now });
    if (n === 0) throw new CampaignError(`campaign ${code} changed state while it was loading: check it and try again`);
  } catch (e) {
    if (serverError(e) && e.code === '23505') throw new CampaignError('another campaign was opened meanwhile: one campaign is open at a time');
    throw e;
  }
  await d.redis.publish(CAMPAIGNS_CHANNEL, code);
  d.logger.info('campaign opened', { campaign: code, entitlements: report.entitlements });
  return report;
}

/**
 * Stops withdrawals at once: PostgreSQL refuses reservations from the moment this commits (reservations share-lock
 * the campaign row, so the close waits for those already committing), and pub/sub tells every instance.
 */
export async function closeCampaign(d: ControlDeps, code: string): Promise<void> {
  const c = await requireCampaign(d.db, code);
  if (c.state !== 'open') throw new CampaignError(`campaign ${code} is not open (it is ${c.state})`);
  const now = d.clock.now();
  const n = await d.db('campaigns').where({ code, state: 'open' }).update({ state: 'closed', closed_at: now, updated_at: now });
  if (n === 0) throw new CampaignError(`campaign ${code} is not open`);
  await d.redis.publish(CAMPAIGNS_CHANNEL, code).catch((e) => {
    // PostgreSQL already refuses; instances re-read within a second anyway.
    d.logger.warn('campaign close not announced on Redis', { campaign: code, error: (e as Error).message });
  });
  d.logger.info('campaign closed', { campaign: code });
}

/**
 * Takes imported or changed beneficiaries into the ledger at once: their payout rows, and, when the campaign is
 * loaded in Redis, the buckets that hold them. The roster import calls this after its transaction commits.
 */
export async function refreshBeneficiaries(d: ControlDeps, campaign: string, ids: Array<string | number | bigint>): Promise<void> {
  const now = d.clock.now();
  const all = ids.map(String);
  const r = recovery(d);
  const epoch = await r.ensureKnown(campaign);
  for (let i = 0; i < all.length; i += REFRESH_CHUNK) {
    const chunk = all.slice(i, i + REFRESH_CHUNK);
    await withConnection(d.db, 'payouts', Date.now() + LOAD_TIMEOUT_MS, (q) => materializePayouts(q, campaign, chunk, now));
    if (epoch) await r.loadBuckets(campaign, chunk, epoch, Date.now() + LOAD_TIMEOUT_MS);
  }
}
