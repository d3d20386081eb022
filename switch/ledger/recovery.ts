// Keeping Redis a faithful copy of PostgreSQL: the epoch each instance trusts, the full rebuild after Redis lost
// its data (flushed, restarted empty), the load of single buckets (roster grew), and the repair of one value that
// PostgreSQL contradicts. Until a campaign's rebuild completes, no instance knows its new epoch, so every
// reservation in it is answered 91: nothing is approved from an incomplete Redis.
import { randomBytes, randomInt } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from '../log.ts';
import { LEDGER_LIMITS } from './limits.ts';
import { redisPage, redisRanges, type RedisRow } from './journal.ts';
import { withConnection } from './pg.ts';
import { bucketKey, Reservations } from './reservations.ts';

/** A rebuild reads PostgreSQL in pages; each page may take this long. */
const REBUILD_PAGE_TIMEOUT_MS = 30_000;

export interface RebuildReport {
  campaign: string;
  epoch: string;
  entitlements: number;
  buckets: number;
  ms: number;
}

export class RedisRecovery {
  private readonly known = new Map<string, string>();
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(private readonly deps: { db: Knex; reservations: Reservations; logger: Logger }) {}

  /** The epoch this instance trusts for the campaign; none while Redis is not known to be complete. */
  epochOf(campaign: string): string | undefined {
    return this.known.get(campaign);
  }

  /** The epoch Redis holds for the campaign (null: not loaded), now trusted by this instance. */
  async ensureKnown(campaign: string): Promise<string | null> {
    const current = await this.deps.reservations.epoch(campaign);
    if (current) this.known.set(campaign, current);
    return current;
  }

  forget(campaign: string): void {
    this.known.delete(campaign);
  }

  /** Adopts the epoch Redis holds for the campaign, or rebuilds when Redis has none. True when ready. */
  async ensure(campaign: string): Promise<boolean> {
    const current = await this.deps.reservations.epoch(campaign);
    if (current) {
      if (this.known.get(campaign) !== current) this.deps.logger.info('redis epoch adopted', { campaign, epoch: current });
      this.known.set(campaign, current);
      return true;
    }
    if (this.known.delete(campaign)) this.deps.logger.warn('redis lost the campaign: rebuilding from PostgreSQL', { campaign });
    return this.rebuildOnce(campaign);
  }

  /**
   * A script answered NOT_READY for this entitlement. True when the caller may try again at once: another
   * instance rebuilt (new epoch), or only this bucket was missing (the roster grew after the load).
   * False while a rebuild is needed or running.
   */
  async notReady(campaign: string, beneficiaryId: string): Promise<boolean> {
    const current = await this.deps.reservations.epoch(campaign);
    if (!current) {
      this.known.delete(campaign);
      this.rebuildOnce(campaign).catch((e) => this.deps.logger.error('rebuild failed', { campaign, error: (e as Error).message }));
      return false;
    }
    if (this.known.get(campaign) !== current) {
      this.known.set(campaign, current);
      return true;
    }
    await this.loadBuckets(campaign, [beneficiaryId], current);
    return true;
  }

  /** One rebuild at a time per campaign and instance; false if another instance holds the rebuild lock. */
  private rebuildOnce(campaign: string): Promise<boolean> {
    let p = this.inFlight.get(campaign);
    if (!p) {
      p = this.rebuild(campaign)
        .then((r) => r !== null)
        .finally(() => this.inFlight.delete(campaign));
      this.inFlight.set(campaign, p);
    }
    return p;
  }

  /**
   * Loads every entitlement of the campaign from PostgreSQL under a new epoch, bucket by bucket, and only then
   * publishes the epoch. Null when another instance is rebuilding it.
   */
  async rebuild(campaign: string): Promise<RebuildReport | null> {
    const { reservations, db, logger } = this.deps;
    const token = randomBytes(8).toString('hex');
    if (!(await reservations.lock(campaign, token))) return null;
    const started = Date.now();
    try {
      const epoch = String(randomInt(1, 2 ** 47));
      let after = '0';
      let carried: RedisRow[] = [];
      let entitlements = 0;
      let buckets = 0;
      for (;;) {
        const page = await withConnection(db, 'rebuild', Date.now() + REBUILD_PAGE_TIMEOUT_MS, (q) =>
          redisPage(q, campaign, after, LEDGER_LIMITS.REBUILD_FETCH_ROWS),
        );
        const last = page.length < LEDGER_LIMITS.REBUILD_FETCH_ROWS;
        let rows = carried.concat(page);
        carried = [];
        if (!last && rows.length > 0) {
          // The last bucket of a page may go on in the next page: hold it back so it is written whole.
          const tail = bucketKey(campaign, rows[rows.length - 1]!.id);
          let cut = rows.length;
          while (cut > 0 && bucketKey(campaign, rows[cut - 1]!.id) === tail) cut--;
          carried = rows.slice(cut);
          rows = rows.slice(0, cut);
        }
        buckets += await reservations.loadBuckets(campaign, epoch, rows);
        entitlements += rows.length;
        if (page.length > 0) after = page[page.length - 1]!.id;
        if (last) break;
      }
      await reservations.setEpoch(campaign, epoch);
      this.known.set(campaign, epoch);
      const report = { campaign, epoch, entitlements, buckets, ms: Date.now() - started };
      logger.info('redis rebuilt from PostgreSQL', { ...report });
      return report;
    } finally {
      await reservations.unlock(campaign, token).catch(() => {});
    }
  }

  /** Loads the whole buckets holding these entitlements from PostgreSQL, under the given epoch. */
  async loadBuckets(campaign: string, beneficiaryIds: string[], epoch: string, deadline = Date.now() + REBUILD_PAGE_TIMEOUT_MS): Promise<number> {
    const size = LEDGER_LIMITS.BUCKET_ENTRIES;
    const starts = [...new Set(beneficiaryIds.map((id) => Math.floor(Number(id) / size) * size))].sort((a, b) => a - b);
    if (starts.length === 0) return 0;
    const rows = await withConnection(this.deps.db, 'bucket load', deadline, (q) =>
      redisRanges(q, campaign, starts.map((s) => [s, s + size] as [number, number])),
    );
    return this.deps.reservations.loadBuckets(campaign, epoch, rows);
  }

  /** Sets one entitlement's value to what PostgreSQL says, unless it changed from `expected` meanwhile. */
  async repair(campaign: string, beneficiaryId: string, expected: string | null, deadline: number): Promise<void> {
    const epoch = this.known.get(campaign);
    if (!epoch) return;
    const id = Number(beneficiaryId);
    const [row] = await withConnection(this.deps.db, 'repair', deadline, (q) => redisRanges(q, campaign, [[id, id + 1]]));
    if (row) await this.deps.reservations.cas(campaign, beneficiaryId, epoch, expected, row.value);
  }
}
