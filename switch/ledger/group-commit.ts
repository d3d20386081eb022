// Group commit for 0200s, and the clean-up its failures need. The rule: a withdrawal is approved only when its
// reservation committed in PostgreSQL; when a batch fails, nobody in it is approved and their Redis reservations
// are undone; when a caller had to answer 91 before its batch finished, a reservation that did commit is voided
// (it is "in doubt" until PostgreSQL confirms the void), so the ledger never holds money for a client told no.
import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { LIMITS } from '../config.ts';
import { Batcher, QueueFull } from './batcher.ts';
import { LEDGER_LIMITS } from './limits.ts';
import { beforeDeadline } from './deadline.ts';
import { voidReservation, writeBatch, type Answer, type WriteOp, type WriteResult } from './journal.ts';
import { InDoubtError } from './pg.ts';
import type { RedisRecovery } from './recovery.ts';
import type { Reservations } from './reservations.ts';

export interface Submission {
  op: WriteOp;
  /** Date.now() by which the caller answers. */
  deadline: number;
  /** The caller answered 91 already. */
  abandoned: boolean;
  /** For a reservation: the epoch and the value it wrote in Redis, and the 91 its caller may have answered. */
  epoch?: string;
  reservedValue?: string;
  unavailable?: Answer;
}

export type CommitResult = WriteResult | { status: 'abandoned' };

interface Deps {
  db: Knex;
  clock: Clock;
  logger: Logger;
  reservations: Reservations;
  recovery: RedisRecovery;
}

export class GroupCommit {
  private readonly batcher: Batcher<Submission, CommitResult>;
  readonly inDoubt: InDoubt;

  constructor(private readonly deps: Deps) {
    this.inDoubt = new InDoubt(deps, (d) => this.giveBack(d));
    this.batcher = new Batcher((items) => this.run(items), {
      name: 'group commit',
      maxBatch: LEDGER_LIMITS.GROUP_COMMIT_MAX_BATCH,
      minIntervalMs: LEDGER_LIMITS.GROUP_COMMIT_MIN_INTERVAL_MS,
      maxQueue: LEDGER_LIMITS.GROUP_COMMIT_MAX_QUEUE,
      concurrency: LEDGER_LIMITS.GROUP_COMMIT_CONCURRENCY,
    });
  }

  submit(s: Submission): Promise<CommitResult> {
    return this.batcher.submit(s).catch((e) => {
      // Refused before it entered a batch (queue full, stopping): nobody else will undo its reservation.
      if (e instanceof QueueFull) {
        s.abandoned = true;
        this.undo(s);
      }
      throw e;
    });
  }

  async stop(): Promise<void> {
    await this.batcher.stop();
    await this.inDoubt.stop();
  }

  private async run(items: Submission[]): Promise<CommitResult[]> {
    const results: CommitResult[] = items.map(() => ({ status: 'abandoned' }));
    const live: number[] = [];
    items.forEach((s, i) => {
      // Its caller gave up before the batch began: never commit it.
      if (s.abandoned || Date.now() >= s.deadline) {
        s.abandoned = true;
        this.undo(s);
      } else live.push(i);
    });
    if (live.length === 0) return results;
    const deadline = Math.min(...live.map((i) => items[i]!.deadline));
    let out: WriteResult[];
    try {
      out = await writeBatch(this.deps.db, live.map((i) => items[i]!.op), this.deps.clock.now(), deadline);
    } catch (e) {
      const doubt = e instanceof InDoubtError;
      this.deps.logger.warn('group commit failed: nobody in it is approved', { size: live.length, in_doubt: doubt, error: (e as Error).message });
      for (const i of live) {
        const s = items[i]!;
        if (s.op.kind !== 'reserve') continue;
        s.abandoned = true;
        if (doubt) void this.inDoubt.add(doubtOf(s, true)!);
        else this.undo(s);
      }
      throw e;
    }
    live.forEach((i, j) => {
      const s = items[i]!;
      const r = out[j]!;
      results[i] = r;
      if (s.op.kind !== 'reserve') return;
      if (r.status === 'approved' && s.abandoned) void this.inDoubt.add(doubtOf(s, true)!);
      else if (r.status === 'doubt') void this.inDoubt.add(doubtOf(s, false)!);
      else if (r.status === 'duplicate' || r.status === 'reread') this.undo(s);
      else if (r.status === 'refused' || r.status === 'unstored') this.repair(s);
    });
    return results;
  }

  /**
   * The caller answers 91 while its reservation's commit may still happen (deadline passed, outcome unknown): keep it in
   * doubt, in Redis too, before the 91 goes out.
   */
  told91(s: Submission): Promise<void> {
    const d = doubtOf(s, true);
    return d ? this.inDoubt.add(d) : Promise.resolve();
  }

  private undo(s: Submission): void {
    const d = doubtOf(s, false);
    if (d) this.giveBack(d);
  }

  /** Gives back a reservation that never committed (or was voided): Redis returns to what it held, unless it changed since. */
  private giveBack(d: Doubt): void {
    if (!d.epoch || !d.reservedValue) return;
    this.deps.reservations
      .cas(d.campaign, d.beneficiaryId, d.epoch, d.reservedValue, d.amountMinor)
      .catch((e) => this.deps.logger.warn('redis reservation not undone (its lease will expire)', { error: (e as Error).message }));
  }

  /** PostgreSQL refused what Redis allowed: make Redis say what PostgreSQL says. */
  private repair(s: Submission): void {
    if (s.op.kind !== 'reserve' || !s.reservedValue) return;
    this.deps.recovery
      .repair(s.op.campaign, s.op.beneficiaryId, s.reservedValue, Date.now() + LIMITS.STORE_TIMEOUT_MS)
      .catch((e) => this.deps.logger.warn('redis value not repaired', { error: (e as Error).message }));
  }
}

/**
 * What undoing one reservation needs, small enough to keep in Redis: a reservation whose commit may have happened
 * while its client was told 91 (or while someone else's answer was stored for its key).
 */
export interface Doubt {
  cls: string;
  key: string;
  campaign: string;
  beneficiaryId: string;
  amountMinor: number;
  /** The epoch and the value the reservation wrote in Redis (to give exactly that one back). */
  epoch: string | null;
  reservedValue: string | null;
  /** The 91 its client was told, which becomes its stored answer once voided; null: someone else's answer stands. */
  told: Answer | null;
}

export function doubtOf(s: Submission, tell91: boolean): Doubt | null {
  if (s.op.kind !== 'reserve') return null;
  const { seen, campaign, beneficiaryId, amountMinor } = s.op;
  return {
    cls: seen.cls, key: seen.key, campaign, beneficiaryId, amountMinor,
    epoch: s.epoch ?? null, reservedValue: s.reservedValue ?? null, told: tell91 ? (s.unavailable ?? null) : null,
  };
}

/** Redis hash of the reservations in doubt whose client was told 91, by request key (one key: one hash slot). */
export const TOLD_UNAVAILABLE_KEY = 'ledger:told-unavailable';

/**
 * Reservations that may have committed while their client was told 91; voided as soon as PostgreSQL answers.
 * Those whose client was told 91 are also kept in Redis until resolved: a switch that dies before voiding one
 * leaves it to the next instance that starts (recover()), which would otherwise let the confirmation window settle
 * as paid a withdrawal whose ATM dispensed nothing.
 */
export class InDoubt {
  /** By request key; `notBefore` (Date.now() ms): recovered ones wait until a commit left running by a dead switch is over. */
  private readonly pending = new Map<string, { d: Doubt; notBefore: number }>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly deps: Deps, private readonly undo: (d: Doubt) => void) {}

  has(cls: string, key: string): boolean {
    return this.pending.has(cls + key);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Tracks `d`; when its client was told 91, resolves once that is also kept in Redis (or could not be, within a bound). */
  async add(d: Doubt, notBefore = 0): Promise<void> {
    const k = d.cls + d.key;
    if (!this.pending.has(k) && this.pending.size >= LEDGER_LIMITS.MAX_IN_DOUBT) {
      const [oldest] = this.pending.keys();
      this.pending.delete(oldest!);
      this.deps.logger.error('too many reservations in doubt: one is no longer tracked', { max: LEDGER_LIMITS.MAX_IN_DOUBT });
    }
    this.pending.set(k, { d, notBefore });
    this.schedule(Math.max(0, notBefore - Date.now()));
    if (d.told) {
      await beforeDeadline(this.deps.reservations.redis.hset(TOLD_UNAVAILABLE_KEY, k, JSON.stringify(d)), Date.now() + LEDGER_LIMITS.IN_DOUBT_KEEP_TIMEOUT_MS, 'keep in doubt')
        .catch((e) => this.deps.logger.warn('reservation in doubt kept in memory only', { error: (e as Error).message }));
    }
  }

  /** Takes over what a switch that stopped (or died) left in doubt; each waits `delayMs` from now before it is voided. */
  async recover(delayMs: number): Promise<number> {
    const kept = await this.deps.reservations.redis.hgetall(TOLD_UNAVAILABLE_KEY);
    const notBefore = Date.now() + delayMs;
    let n = 0;
    for (const [k, json] of Object.entries(kept)) {
      if (this.pending.has(k) || n >= LEDGER_LIMITS.MAX_IN_DOUBT) continue;
      this.pending.set(k, { d: JSON.parse(json) as Doubt, notBefore });
      n++;
    }
    if (n > 0) {
      this.deps.logger.warn('reservations left in doubt by a switch that stopped: voiding them', { count: n, delay_ms: delayMs });
      this.schedule(delayMs);
    }
    return n;
  }

  /** Tries to resolve everything due now (also what the timer does). */
  resolve(): Promise<void> {
    if (!this.running) this.running = this.resolveAll().finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size > 0) await this.resolve();
  }

  private schedule(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.resolve().then(() => {
        if (this.pending.size > 0) this.schedule(LEDGER_LIMITS.IN_DOUBT_RETRY_MS);
      });
    }, ms);
    this.timer.unref();
  }

  private async resolveAll(): Promise<void> {
    for (const [k, { d, notBefore }] of [...this.pending]) {
      if (Date.now() < notBefore) continue;
      try {
        const voided = await voidReservation(
          this.deps.db,
          { seen: { cls: d.cls, key: d.key }, beneficiaryId: d.beneficiaryId, answer: d.told },
          this.deps.clock.now(),
          Date.now() + LIMITS.STORE_TIMEOUT_MS,
        );
        if (voided) this.deps.logger.warn('reservation voided: its client was told 91', { campaign: d.campaign });
        this.pending.delete(k);
        this.undo(d);
        if (d.told) await this.deps.reservations.redis.hdel(TOLD_UNAVAILABLE_KEY, k).catch(() => {}); // a later recover() voids it again: harmless
      } catch {
        return; // PostgreSQL still away: try again later
      }
    }
  }
}
