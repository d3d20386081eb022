// Which campaigns are open, as this instance believes: re-read at least every CAMPAIGN_CACHE_MS, at once when
// another instance announces a change (pub/sub), and before a request is declined as CAMPAIGN_CLOSED by a read that
// began after the request arrived (concurrent decliners share it), so a campaign just opened approves at once.
// The belief only has to be right most of the time: a reservation commits only while PostgreSQL holds the
// campaign open (see journal.ts), so a stale "open" can never approve after a close.
import type { KeyObject } from 'node:crypto';
import type { Knex } from 'knex';
import { campaignKey, preparedKey } from '../roster/hashing.ts';
import type { CampaignState } from '../campaigns.ts';
import { LEDGER_LIMITS } from './limits.ts';
import { withConnection } from './pg.ts';

export interface CampaignInfo {
  code: string;
  state: CampaignState;
  confirmationWindowMs: number;
  /** The key its identifiers are hashed under, prepared once (two hashes per withdrawal). */
  hashKey: KeyObject;
}

export class CampaignCache {
  private byCode = new Map<string, CampaignInfo>();
  /** performance.now() when the read behind the current belief began (-Infinity: none yet). */
  private readStartedAt = -Infinity;
  private refreshing: Promise<void> | null = null;
  private readonly keys = new Map<string, KeyObject>();
  /** The roster's version (migration 008) as of the last read; null before the first. */
  rosterVersion: string | null = null;

  constructor(private readonly db: Knex, private readonly identityKey: string) {}

  /** Campaigns this instance believes open. */
  open(): CampaignInfo[] {
    return [...this.byCode.values()].filter((c) => c.state === 'open');
  }

  get(code: string): CampaignInfo | undefined {
    return this.byCode.get(code);
  }

  /** Re-reads every campaign (there are few); concurrent callers share one read. */
  refresh(deadline = Date.now() + 2_000): Promise<void> {
    if (!this.refreshing) {
      const startedAt = performance.now();
      this.refreshing = withConnection(this.db, 'campaigns', deadline, (q) =>
        q.query<{ code: string; state: CampaignState; confirmation_window_ms: number; roster_version: string | null }>(
          `SELECT code, state, confirmation_window_ms, (SELECT version::text FROM roster_version WHERE one) AS roster_version FROM campaigns`,
        ),
      )
        .then((rows) => {
          // Without campaigns there is nothing to copy; null: copies are not used.
          this.rosterVersion = rows[0]?.roster_version ?? null;
          const next = new Map<string, CampaignInfo>();
          for (const r of rows) {
            let hashKey = this.keys.get(r.code);
            if (!hashKey) this.keys.set(r.code, (hashKey = preparedKey(campaignKey(this.identityKey, r.code))));
            next.set(r.code, { code: r.code, state: r.state, confirmationWindowMs: r.confirmation_window_ms, hashKey });
          }
          this.byCode = next;
          this.readStartedAt = startedAt;
        })
        .finally(() => (this.refreshing = null));
    }
    return this.refreshing;
  }

  /** The campaign DE48 CP names, or the one open now; null when there is none. */
  async select(cp: string | undefined, deadline: number): Promise<CampaignInfo | null> {
    const arrived = performance.now();
    if (arrived - this.readStartedAt > LEDGER_LIMITS.CAMPAIGN_CACHE_MS) await this.refresh(deadline);
    const pick = () => (cp !== undefined ? this.byCode.get(cp) : this.open()[0]) ?? null;
    let c = pick();
    // A shared read that began before this request may predate an open: then one more (at most two rounds).
    while ((!c || c.state !== 'open') && this.readStartedAt < arrived) {
      await this.refresh(deadline);
      c = pick();
    }
    return c;
  }
}
