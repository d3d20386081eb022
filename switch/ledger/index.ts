// The ledger: what the link calls for every financial request, and what keeps Redis and PostgreSQL in step
// (epoch checks, rebuilds, settlement and purge jobs). Redis is the fast gate, PostgreSQL the truth.
import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { LIMITS } from '../config.ts';
import { createRedis } from '../redis.ts';
import { adviceHandler } from '../handlers/advice.ts';
import { reversalHandler } from '../handlers/reversal.ts';
import { withdrawalHandler } from '../handlers/withdrawal.ts';
import { MAX_IDS_PER_JOB, SettlementJobs } from '../jobs/settlement.ts';
import { refreshStatistics } from './statistics.ts';
import { Slots } from './slots.ts';
import { Batcher } from './batcher.ts';
import { beforeDeadline, deadlineIn } from './deadline.ts';
import { CampaignCache } from './campaign-cache.ts';
import type { Handler, LedgerCore } from './core.ts';
import { KeyLock } from './dedupe.ts';
import { GroupCommit } from './group-commit.ts';
import { confirmBatch, purgeExpired, readBatch, settleDue, type AdviceResult, type ConfirmOp, type ReadQuery, type ReadResult, type Settled } from './journal.ts';
import { LEDGER_LIMITS } from './limits.ts';
import { refreshBeneficiaries } from './opening.ts';
import { inStatement, withConnection } from './pg.ts';
import { RedisRecovery, type RebuildReport } from './recovery.ts';
import { RosterCopies, type RosterCopiesStats } from './roster-copies.ts';
import { Latencies, type LatencySnapshot } from '../link/latency.ts';
import { CAMPAIGNS_CHANNEL, Reservations } from './reservations.ts';

export type { Handler, RequestContext } from './core.ts';
export { openCampaign, closeCampaign, refreshBeneficiaries } from './opening.ts';

export type FinancialMti = '0200' | '0220' | '0221' | '0420' | '0421';

export interface Ledger {
  handlers: Record<FinancialMti, Handler>;
  /** Loads the campaign states, checks Redis against its epoch (rebuilding if needed), starts the jobs. */
  start(): Promise<void>;
  /** Finishes the group commits in flight, stops the workers. */
  stop(): Promise<void>;
}

export interface LedgerDeps {
  db: Knex;
  redis: Redis;
  /** For the connections the ledger opens itself (pub/sub, BullMQ). */
  redisUrl: string;
  clock: Clock;
  identityKey: string;
  logger: Logger;
  /** BullMQ settlement and purge jobs (default on). Scenario tests drive settleDue() themselves. */
  jobs?: boolean;
  /** How long what a stopped switch left in doubt waits before it is voided (default LEDGER_LIMITS.IN_DOUBT_RECOVERY_DELAY_MS). */
  inDoubtRecoveryDelayMs?: number;
  /** Decide withdrawals from an in-memory copy of each open campaign's roster (default on; off: every one reads PostgreSQL). */
  rosterCopies?: boolean;
  /** How long start() waits for the roster copies (default LEDGER_LIMITS.ROSTER_COPY_START_WAIT_MS). */
  rosterCopyStartWaitMs?: number;
}

/** Settlement, purge and maintenance: what the jobs and the ops tools call. */
export interface LedgerOps extends Ledger {
  /** Settles withdrawals whose confirmation window has passed by `now` (one, or all). */
  settleDue(now: Date, withdrawalId?: string): Promise<Settled[]>;
  /** Drops stored answers and tombstones older than 48 hours. */
  purgeExpired(now: Date): Promise<{ seen: number; tombstones: number }>;
  /** Takes imported or changed beneficiaries into the ledger at once. */
  refreshBeneficiaries(campaign: string, ids: Array<string | number | bigint>): Promise<void>;
  /** Rebuilds the campaign's Redis copy from PostgreSQL now (null if another instance is rebuilding it). */
  rebuild(campaign: string): Promise<RebuildReport | null>;
  /** Re-reads campaign states and Redis epochs now (what the periodic check does). */
  check(): Promise<void>;
  /** Reservations whose commit was in doubt, not yet voided. */
  inDoubt(): number;
  /** The in-memory roster copies and how many withdrawals were decided from them. */
  rosterCopies(): RosterCopiesStats;
  /** How long withdrawals waited on each store since the start (LedgerCore.stages). */
  stages(): Record<string, LatencySnapshot>;
}

/** Settlement and purge run off the money path; they may take this long per call. */
const MAINTENANCE_TIMEOUT_MS = 10_000;

export function createLedger(deps: LedgerDeps): LedgerOps {
  const { db, clock, logger } = deps;
  const reservations = new Reservations(deps.redis);
  const recovery = new RedisRecovery({ db, reservations, logger });
  const campaigns = new CampaignCache(db, deps.identityKey);
  const commits = new GroupCommit({ db, clock, logger, reservations, recovery });
  const rosters = new RosterCopies({ db, logger, enabled: deps.rosterCopies ?? true });
  const reads = new Batcher<ReadQuery, ReadResult>(
    (items) => withConnection(db, 'roster read', Date.now() + LIMITS.STORE_TIMEOUT_MS, (q) => readBatch(q, items)),
    {
      name: 'roster reads',
      maxBatch: LEDGER_LIMITS.READ_MAX_BATCH,
      minIntervalMs: LEDGER_LIMITS.READ_MIN_INTERVAL_MS,
      maxQueue: LEDGER_LIMITS.READ_MAX_QUEUE,
      concurrency: LEDGER_LIMITS.READ_CONCURRENCY,
    },
  );

  const confirms = new Batcher<ConfirmOp, AdviceResult<Settled>>(
    (ops) => inStatement(db, 'confirmations', Date.now() + LIMITS.STORE_TIMEOUT_MS, (q) => confirmBatch(q, ops, clock.now())),
    {
      name: 'confirmations',
      maxBatch: LEDGER_LIMITS.CONFIRM_MAX_BATCH,
      minIntervalMs: LEDGER_LIMITS.CONFIRM_MIN_INTERVAL_MS,
      maxQueue: LEDGER_LIMITS.CONFIRM_MAX_QUEUE,
      concurrency: LEDGER_LIMITS.CONFIRM_CONCURRENCY,
    },
  );

  async function settle(now: Date, withdrawalIds: string[] | null): Promise<Settled[]> {
    const settled = await settleDue(db, now, withdrawalIds, Date.now() + MAINTENANCE_TIMEOUT_MS);
    for (const s of settled) {
      const epoch = recovery.epochOf(s.campaign);
      if (epoch) await reservations.confirm(s.campaign, s.beneficiaryId, epoch).catch(() => {});
    }
    if (settled.length) logger.info('withdrawals settled: confirmation window passed', { count: settled.length });
    return settled;
  }

  const jobs =
    deps.jobs === false
      ? null
      : new SettlementJobs({
          redisUrl: deps.redisUrl,
          logger,
          settle: async (ids) => (await settle(clock.now(), ids)).length,
          sweep: async () => (await settle(clock.now(), null)).length,
          purge: () => purgeExpired(db, clock.now(), Date.now() + MAINTENANCE_TIMEOUT_MS),
        });

  // Approvals gather into one job per SETTLEMENT_JOB_GATHER_MS (or MAX_IDS_PER_JOB).
  const toSchedule = new Grouper<string>(MAX_IDS_PER_JOB, LEDGER_LIMITS.SETTLEMENT_JOB_GATHER_MS, (ids, windowMs) =>
    jobs?.schedule(ids, windowMs).catch((e) =>
      logger.warn('settlement job not queued (the sweep will settle it)', { count: ids.length, error: (e as Error).message }),
    ),
  );

  const core: LedgerCore = {
    db,
    clock,
    logger,
    campaigns,
    recovery,
    reservations,
    rosters,
    reads,
    commits,
    confirms,
    keyLock: new KeyLock(),
    advices: new Slots('advice', LEDGER_LIMITS.ADVICE_CONCURRENCY, LEDGER_LIMITS.ADVICE_MAX_QUEUE),
    stages: new Latencies(),
    scheduleSettlement(withdrawalId, windowMs) {
      if (jobs) toSchedule.add(withdrawalId, windowMs);
    },
  };

  let subscriber: Redis | null = null;
  let monitor: NodeJS.Timeout | null = null;
  let statistics: NodeJS.Timeout | null = null;
  let analyzing: Promise<void> | null = null;

  function refreshStatisticsOnce(): Promise<void> {
    analyzing ??= refreshStatistics(db, Date.now() + MAINTENANCE_TIMEOUT_MS)
      .then((tables) => tables.length && logger.info('planner statistics refreshed: the table grew', { tables: tables.join(',') }))
      .catch((e) => logger.warn('refreshing planner statistics failed (retrying)', { error: (e as Error).message }))
      .then(() => void (analyzing = null));
    return analyzing;
  }
  let checking: Promise<void> | null = null;

  let recovered = false;

  /** Every open campaign: Redis still holds what was loaded, or it is rebuilt. Then, once, what a stopped switch left in doubt. */
  function check(): Promise<void> {
    if (!checking) {
      checking = (async () => {
        await campaigns.refresh();
        for (const c of campaigns.open()) await recovery.ensure(c.code);
        // In the background: a copy of a million people takes seconds to load, and PostgreSQL answers meanwhile.
        void rosters.sync(campaigns.open().map((c) => c.code), campaigns.rosterVersion);
        if (!recovered) {
          await commits.inDoubt.recover(deps.inDoubtRecoveryDelayMs ?? LEDGER_LIMITS.IN_DOUBT_RECOVERY_DELAY_MS);
          recovered = true;
        }
      })()
        .catch((e) => logger.warn('ledger check failed (retrying)', { error: (e as Error).message }))
        .finally(() => (checking = null));
    }
    return checking;
  }

  const withdrawal = withdrawalHandler(core);
  const advice = adviceHandler(core);
  const reversal = reversalHandler(core);

  return {
    handlers: { '0200': withdrawal, '0220': advice, '0221': advice, '0420': reversal, '0421': reversal },

    async start() {
      await check();
      await beforeDeadline(rosters.loadAll(campaigns.open().map((c) => c.code), campaigns.rosterVersion), deadlineIn(deps.rosterCopyStartWaitMs ?? LEDGER_LIMITS.ROSTER_COPY_START_WAIT_MS), 'roster copies')
        .catch((e) => logger.warn('starting before the roster copies are loaded: withdrawals read PostgreSQL meanwhile', { error: (e as Error).message }));
      subscriber = createRedis(deps.redisUrl, { enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined });
      subscriber.on('error', () => {}); // reconnects by itself; the periodic check covers the gap
      subscriber.on('message', () => void check());
      subscriber.on('ready', () => void check());
      subscriber.subscribe(CAMPAIGNS_CHANNEL).catch(() => {});
      monitor = setInterval(() => void check(), LEDGER_LIMITS.EPOCH_CHECK_INTERVAL_MS);
      monitor.unref();
      statistics = setInterval(() => void refreshStatisticsOnce(), LEDGER_LIMITS.STATS_CHECK_INTERVAL_MS);
      statistics.unref();
      await jobs?.start();
    },

    async stop() {
      if (monitor) clearInterval(monitor);
      if (statistics) clearInterval(statistics);
      monitor = statistics = null;
      await analyzing;
      await reads.stop();
      await confirms.stop();
      await commits.stop();
      await rosters.stop();
      await toSchedule.flushAll();
      await jobs?.stop();
      await checking;
      subscriber?.disconnect();
      subscriber = null;
    },

    settleDue: (now, withdrawalId) => settle(now, withdrawalId === undefined ? null : [withdrawalId]),
    purgeExpired: (now) => purgeExpired(db, now, Date.now() + MAINTENANCE_TIMEOUT_MS),
    refreshBeneficiaries: (campaign, ids) => refreshBeneficiaries({ db, redis: deps.redis, clock, logger }, campaign, ids),
    rebuild: (campaign) => recovery.rebuild(campaign),
    check,
    inDoubt: () => commits.inDoubt.size,
    rosterCopies: () => rosters.stats(),
    stages: () => core.stages.snapshot(),
  };
}

/** Collects items by a numeric group (the confirmation window) for `gatherMs`, or until a group holds `max`. */
class Grouper<T> {
  private readonly groups = new Map<number, T[]>();
  private timer: NodeJS.Timeout | null = null;

  private readonly sent = new Set<Promise<unknown>>();

  constructor(private readonly max: number, private readonly gatherMs: number, private readonly send: (items: T[], group: number) => Promise<unknown> | undefined) {}

  add(item: T, group: number): void {
    let items = this.groups.get(group);
    if (!items) this.groups.set(group, (items = []));
    items.push(item);
    if (items.length >= this.max) {
      this.groups.delete(group);
      this.flush(items, group);
    } else {
      this.timer ??= setTimeout(() => void this.flushAll(), this.gatherMs);
    }
  }

  /** Sends what is collected now and waits for everything sent so far. */
  async flushAll(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const [group, items] of this.groups) this.flush(items, group);
    this.groups.clear();
    await Promise.all(this.sent);
  }

  private flush(items: T[], group: number): void {
    const p = this.send(items, group);
    if (!p) return;
    this.sent.add(p);
    void p.finally(() => this.sent.delete(p));
  }
}
