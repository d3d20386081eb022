// Every bound of the ledger, with its unit. The shared ones (STORE_TIMEOUT_MS …) live in switch/config.ts.

export const LEDGER_LIMITS = {
  /** Entitlements per Redis hash: well under hash-max-listpack-entries (512) so buckets stay listpacks. */
  BUCKET_ENTRIES: 256,
  /** Group commit: a batch closes at this many requests … */
  GROUP_COMMIT_MAX_BATCH: 256,
  /**
   * … and under load, batches start at most this often: what arrives meanwhile joins the next one. At half the
   * maximum rate, batches started back to back held a few requests each, and the statement's fixed cost per request
   * doubled PostgreSQL's CPU per approval. The first request after a quiet spell does not wait.
   */
  GROUP_COMMIT_MIN_INTERVAL_MS: 2,
  /** Batches in flight at once (each holds one PostgreSQL connection). */
  GROUP_COMMIT_CONCURRENCY: 2,
  /** Requests waiting for a batch; beyond it a request is answered 91 at once. */
  GROUP_COMMIT_MAX_QUEUE: 8_192,
  /** Roster reads are batched the same way. */
  READ_MAX_BATCH: 256,
  READ_MIN_INTERVAL_MS: 1,
  READ_CONCURRENCY: 2,
  READ_MAX_QUEUE: 8_192,
  /** Confirmations (0220/0221) share a statement as 0200s do, in batches of up to this many … */
  CONFIRM_MAX_BATCH: 256,
  CONFIRM_MIN_INTERVAL_MS: 2,
  CONFIRM_CONCURRENCY: 2,
  CONFIRM_MAX_QUEUE: 8_192,
  /**
   * An advice's own uses of a PostgreSQL connection at once (slots.ts: a reversal's transaction, reading a stored
   * answer): with the batches above and the settlement jobs, within the switch's pool of 20. The rest wait, up to
   * ADVICE_MAX_QUEUE.
   */
  ADVICE_CONCURRENCY: 8,
  ADVICE_MAX_QUEUE: 4_096,
  /**
   * A Redis reservation older than this while PostgreSQL says AVAILABLE never reached PostgreSQL
   * (its process died or its commit failed): another withdrawal may take it over.
   */
  RESERVATION_LEASE_MS: 15_000,
  /** Buckets sent to Redis per pipeline during a rebuild. */
  REBUILD_PIPELINE_BUCKETS: 128,
  /** Rows fetched from PostgreSQL per round trip during a rebuild. */
  REBUILD_FETCH_ROWS: 50_000,
  /** The rebuild lock expires by itself if its holder dies. */
  REBUILD_LOCK_MS: 120_000,
  /** How often each instance checks that Redis still holds what it loaded (a flush or restart is found within it). */
  EPOCH_CHECK_INTERVAL_MS: 1_000,
  /** Campaign states are re-read at least this often (pub/sub tells sooner). */
  CAMPAIGN_CACHE_MS: 1_000,
  /** How often a switch looks whether a table of the rush has doubled since its statistics were taken (statistics.ts) … */
  STATS_CHECK_INTERVAL_MS: 5_000,
  /** … and the growth below which it does not bother (8 KB pages): 512 KB, some 3,500 withdrawals. */
  STATS_MIN_GROWTH_PAGES: 64,
  /** partner-interface §6: stored answers and reversal tombstones are kept 48 hours. */
  SEEN_RETENTION_MS: 48 * 3600_000,
  TOMBSTONE_RETENTION_MS: 48 * 3600_000,
  /** Rows deleted per statement by the purge job. */
  PURGE_BATCH_ROWS: 10_000,
  /** Withdrawals settled per transaction when the confirmation window has passed. */
  SETTLE_BATCH_ROWS: 500,
  /**
   * Approvals gather this long into one settlement job (a job is a heavy Redis script: per approval, or per small
   * batch at moderate load, it cost more than the reservation). A job added this much later still fires after the
   * window of each of its withdrawals; one lost in a crash meanwhile is caught by the sweep.
   */
  SETTLEMENT_JOB_GATHER_MS: 250,
  /** The settlement sweep that catches windows whose delayed job was lost (e.g. Redis flushed). */
  SETTLE_SWEEP_INTERVAL_MS: 60_000,
  PURGE_INTERVAL_MS: 3600_000,
  /** Commits whose outcome is unknown, waiting to be undone; beyond it the oldest is logged and dropped. */
  MAX_IN_DOUBT: 10_000,
  IN_DOUBT_RETRY_MS: 500,
  /** Keeping a reservation in doubt in Redis may delay its 91 this long at most. */
  IN_DOUBT_KEEP_TIMEOUT_MS: 100,
  /**
   * A switch that starts voids what a stopped one left in doubt only after this: a group commit that switch left
   * running in PostgreSQL (its client gone, blocked on a lock) may still commit meanwhile. Locks on the money path
   * are held for at most TX_STATEMENT_TIMEOUT_MS, so such a statement ends long before.
   */
  IN_DOUBT_RECOVERY_DELAY_MS: 30_000,
  /** Reversal and advice transactions, settlement sweeps: statement and lock bound inside PostgreSQL. */
  TX_STATEMENT_TIMEOUT_MS: 800,
  /**
   * Cards (current and superseded) one in-process roster copy may hold (roster-index.ts): everyone in Taiwan and their
   * replaced cards. 64 bytes each, 8-16 more in the hash table, 16 per guardian hash: ~2.2 GB for 30 M adults.
   */
  ROSTER_INDEX_MAX_ENTRIES: 30_000_000,
  /** Rows fetched from PostgreSQL per round trip while a roster copy loads. */
  ROSTER_INDEX_FETCH_ROWS: 50_000,
  /**
   * A starting switch waits this long for its roster copies before it takes traffic (a campaign of a million loads in
   * ~4 s here); a larger roster goes on loading while withdrawals read PostgreSQL.
   */
  ROSTER_COPY_START_WAIT_MS: 10_000,
  /** A roster copy that failed to load is tried again at the same roster version after this. */
  ROSTER_COPY_RETRY_MS: 60_000,
  /** Stopping waits this long at most for a roster copy still loading (a switch drains within seconds). */
  ROSTER_COPY_STOP_WAIT_MS: 1_000,
} as const;
