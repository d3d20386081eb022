// The in-memory copies of the open campaigns' rosters this instance decides withdrawals from (RosterIndex), kept to
// the roster's version (migration 008). A copy is used only while the version this instance last read is the one it
// was loaded at, and the group commit checks that version again in PostgreSQL: a withdrawal decided from a copy
// that an import overtook commits nothing and is decided again from PostgreSQL ('reread'). Without a usable copy
// (loading, reloading after a change, too big, disabled) withdrawals read the roster from PostgreSQL, as they always could.
import type { Knex } from 'knex';
import type { Logger } from '../log.ts';
import { beforeDeadline, deadlineIn } from './deadline.ts';
import { LEDGER_LIMITS } from './limits.ts';
import { RosterIndex } from './roster-index.ts';

export interface RosterCopiesStats {
  /** Withdrawals decided from a copy, and from a PostgreSQL read. */
  fromCopy: number;
  fromPostgres: number;
  /** Decided from a copy, then decided again from PostgreSQL (the roster changed, or the key had an answer). */
  reread: number;
  copies: Array<{ campaign: string; version: string; cards: number; bytes: number }>;
}

export class RosterCopies {
  private readonly copies = new Map<string, RosterIndex>();
  private version: string | null = null;
  private loading: Promise<void> | null = null;
  /** Loads that failed (too large, PostgreSQL away), by campaign: not tried again at that version before a while. */
  private readonly failed = new Map<string, { version: string; atMs: number }>();
  private stopped = false;
  readonly counts = { fromCopy: 0, fromPostgres: 0, reread: 0 };

  constructor(private readonly deps: { db: Knex; logger: Logger; enabled: boolean; maxEntries?: number }) {}

  /** The campaign's copy, if it is loaded at the roster version this instance last read. */
  current(campaign: string): RosterIndex | null {
    const c = this.copies.get(campaign);
    return c && c.version === this.version ? c : null;
  }

  /** The group commit saw this roster version: copies older than it stop being used now (the next sync reloads them). */
  versionSeen(version: string): void {
    if (this.version === null || BigInt(version) > BigInt(this.version)) this.version = version;
  }

  /**
   * Follows the open campaigns and the roster version: drops the copies of campaigns no longer open, and loads (one at
   * a time, in the background) a copy for an open campaign that has none at this version. Resolves when that load ends.
   */
  sync(open: string[], version: string | null): Promise<void> {
    if (version !== null) this.versionSeen(version);
    for (const code of [...this.copies.keys()]) if (!open.includes(code)) this.copies.delete(code);
    if (!this.deps.enabled || this.stopped || this.version === null || this.loading) return this.loading ?? Promise.resolve();
    const todo = open.find((code) => this.copies.get(code)?.version !== this.version && !this.failedRecently(code));
    if (todo === undefined) return Promise.resolve();
    const atVersion = this.version;
    const started = Date.now();
    const loading = RosterIndex.load(this.deps.db, todo, { maxEntries: this.deps.maxEntries ?? LEDGER_LIMITS.ROSTER_INDEX_MAX_ENTRIES })
      .then((copy: RosterIndex) => {
        this.failed.delete(todo);
        if (this.stopped || !open.includes(todo)) return;
        this.copies.set(todo, copy);
        this.deps.logger.info('roster copy loaded', {
          campaign: todo, version: copy.version, cards: copy.size, mb: Math.round(copy.bytes / 1e5) / 10, ms: Date.now() - started,
        });
      })
      .catch((e: unknown) => {
        // Retried only after a while or at another version: a roster too large would otherwise be counted every second.
        this.failed.set(todo, { version: atVersion, atMs: Date.now() });
        this.deps.logger.warn('roster copy not loaded: withdrawals read PostgreSQL', { campaign: todo, error: (e as Error).message });
      })
      .finally(() => (this.loading = null));
    this.loading = loading;
    return loading;
  }

  private failedRecently(campaign: string): boolean {
    const f = this.failed.get(campaign);
    return f !== undefined && f.version === this.version && Date.now() - f.atMs < LEDGER_LIMITS.ROSTER_COPY_RETRY_MS;
  }

  stats(): RosterCopiesStats {
    return {
      ...this.counts,
      copies: [...this.copies.values()].map((c) => ({ campaign: c.campaign, version: c.version, cards: c.size, bytes: c.bytes })),
    };
  }

  /** Loads every open campaign's copy that is missing, one after the other (at start, before taking traffic). */
  async loadAll(open: string[], version: string | null): Promise<void> {
    for (let i = 0; i <= open.length; i++) await this.sync(open, version);
  }

  /** No new loads start; a load in progress is waited for at most ROSTER_COPY_STOP_WAIT_MS (its result is dropped). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.copies.clear();
    if (this.loading) {
      await beforeDeadline(this.loading, deadlineIn(LEDGER_LIMITS.ROSTER_COPY_STOP_WAIT_MS), 'roster copy load').catch(() => {});
    }
  }
}
