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
import { voidReservation, writeBatch, type Answer, type ReserveOp, type WriteOp, type WriteResult } from './journal.ts';
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
    this.inDoubt = new InDoubt(deps, (s) => this.undo(s));
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
        if (doubt) this.inDoubt.add(s, true);
        else this.undo(s);
      }
      throw e;
    }
    live.forEach((i, j) => {
      const s = items[i]!;
      const r = out[j]!;
      results[i] = r;
      if (s.op.kind !== 'reserve') return;
      if (r.status === 'approved' && s.abandoned) this.inDoubt.add(s, true);
      else if (r.status === 'doubt') this.inDoubt.add(s, false);
      else if (r.status === 'duplicate') this.undo(s);
      else if (r.status === 'refused' || r.status === 'unstored') this.repair(s);
    });
    return results;
  }

  /** Gives back a reservation that never committed: Redis returns to what it held before, unless it changed since. */
  private undo(s: Submission): void {
    if (s.op.kind !== 'reserve' || !s.epoch || !s.reservedValue) return;
    const op: ReserveOp = s.op;
    this.deps.reservations
      .cas(op.campaign, op.beneficiaryId, s.epoch, s.reservedValue, op.amountMinor)
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

/** Reservations that may have committed while their client was told 91; voided as soon as PostgreSQL answers. */
export class InDoubt {
  /** By request key; `tell91`: the client was told 91, so that becomes its stored answer once voided. */
  private readonly pending = new Map<string, { s: Submission; tell91: boolean }>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly deps: Deps, private readonly undo: (s: Submission) => void) {}

  has(cls: string, key: string): boolean {
    return this.pending.has(cls + key);
  }

  get size(): number {
    return this.pending.size;
  }

  add(s: Submission, tell91: boolean): void {
    const k = s.op.seen.cls + s.op.seen.key;
    if (!this.pending.has(k) && this.pending.size >= LEDGER_LIMITS.MAX_IN_DOUBT) {
      const [oldest] = this.pending.keys();
      this.pending.delete(oldest!);
      this.deps.logger.error('too many reservations in doubt: one is no longer tracked', { max: LEDGER_LIMITS.MAX_IN_DOUBT });
    }
    this.pending.set(k, { s, tell91 });
    this.schedule(0);
  }

  /** Tries to resolve everything now (also what the timer does). */
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
    for (const [k, { s, tell91 }] of [...this.pending]) {
      if (s.op.kind !== 'reserve') {
        this.pending.delete(k);
        continue;
      }
      try {
        const voided = await voidReservation(
          this.deps.db,
          { seen: s.op.seen, beneficiaryId: s.op.beneficiaryId, answer: tell91 ? (s.unavailable ?? null) : null },
          this.deps.clock.now(),
          Date.now() + LIMITS.STORE_TIMEOUT_MS,
        );
        if (voided) this.deps.logger.warn('reservation voided: its client was told 91', { campaign: s.op.campaign });
        this.pending.delete(k);
        this.undo(s);
      } catch {
        return; // PostgreSQL still away: try again later
      }
    }
  }
}
