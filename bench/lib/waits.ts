// What PostgreSQL's sessions of the bench database were doing while a phase ran, sampled from pg_stat_activity: on
// CPU, waiting for the WAL, for a lock, or idle in a transaction waiting on the switch (ClientRead). The last is how
// the advice path showed itself: transactions of several round trips, each waiting its turn in a busy switch.
import type { Knex } from 'knex';

const SAMPLE_EVERY_MS = 50;
const STATEMENT_CHARS = 48;

export interface WaitSampler {
  /** The commonest states, most frequent first, with their share of the samples of busy sessions. */
  stop(top: number): Promise<string>;
}

export function sampleWaits(db: Knex): WaitSampler {
  const counts = new Map<string, number>();
  let total = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const r = await db.raw<{ rows: Array<{ k: string }> }>(
        `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') || ' (' || state || ') ' ||
                left(regexp_replace(query, '\\s+', ' ', 'g'), ${STATEMENT_CHARS}) AS k
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`,
      );
      for (const { k } of r.rows) counts.set(k, (counts.get(k) ?? 0) + 1);
      total += r.rows.length;
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_EVERY_MS));
    }
  })();
  return {
    async stop(top) {
      running = false;
      await loop;
      return [...counts]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([k, n]) => `${((n / Math.max(1, total)) * 100).toFixed(0).padStart(3)} %  ${k}`)
        .join('\n    ');
    },
  };
}
