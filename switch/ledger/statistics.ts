// The planner's statistics of the tables that grow from nothing during a campaign's rush: withdrawals, stored answers,
// history, tombstones. The money path's statements keep one generic plan per connection, made from these statistics
// and made again whenever they change. Autovacuum refreshes them at most once a minute, and only after 10 % growth;
// meanwhile a plan made on a nearly empty withdrawals table finds the withdrawal a 0220 confirms by reading every
// reserved one (test/ledger/plans.test.ts). So the ledger ANALYZEs such a table each time it has doubled since its
// statistics were taken: about a dozen times over a campaign, each a sample of at most 30,000 rows.
import type { Knex } from 'knex';
import { LEDGER_LIMITS } from './limits.ts';
import { inTransaction } from './pg.ts';

export const GROWING_TABLES = ['withdrawals', 'messages_seen', 'payout_history', 'reversal_tombstones'];

/** ANALYZEs those of GROWING_TABLES that have doubled (plus minGrowthPages) since last analyzed; returns their names. */
export async function refreshStatistics(db: Knex, deadline: number, minGrowthPages = LEDGER_LIMITS.STATS_MIN_GROWTH_PAGES): Promise<string[]> {
  return inTransaction(db, 'statistics', deadline, async (q) => {
    // One switch instance at a time: the others find the lock taken and skip this round.
    const [lock] = await q.query<{ got: boolean }>(`SELECT pg_try_advisory_xact_lock(hashtext('ledger-statistics')) AS got`);
    if (!lock?.got) return [];
    // relpages is what the last ANALYZE (or VACUUM) saw; pg_relation_size is now.
    const grown = await q.query<{ name: string }>(
      `SELECT t AS name FROM unnest($1::text[]) AS t JOIN pg_class c ON c.oid = to_regclass(t)
        WHERE pg_relation_size(c.oid) / current_setting('block_size')::int >= 2 * greatest(c.relpages, 0) + $2`,
      [GROWING_TABLES, minGrowthPages],
    );
    const names = grown.map((r) => r.name);
    if (names.length) await q.query(`ANALYZE ${names.join(', ')}`);
    return names;
  });
}
