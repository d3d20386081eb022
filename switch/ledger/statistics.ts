// The planner's statistics of the ledger's tables, which grow from nothing: the roster at its import, the payouts at
// `campaign open`, withdrawals, stored answers, history and tombstones during the rush. The money path's statements
// keep one generic plan per connection, made from these statistics and made again whenever they change. Autovacuum
// refreshes them at most once a minute, and only after 10 % growth; meanwhile a plan made on a nearly empty table can
// read all of it per request once it has grown: a 0220 found the withdrawal it confirms by reading every reserved one
// (test/ledger/plans.test.ts). So a table is ANALYZEd each time it has doubled since its statistics were taken: by the
// import and the open that filled it, and by every switch every few seconds. About a dozen times over a campaign,
// each a sample of at most 30,000 rows; a small import into a large roster does not pay for one.
import type { Knex } from 'knex';
import { LEDGER_LIMITS } from './limits.ts';
import { inTransaction } from './pg.ts';

export const ROSTER_TABLES = ['beneficiaries', 'nhi_cards'];
export const LEDGER_TABLES = [...ROSTER_TABLES, 'payouts', 'withdrawals', 'messages_seen', 'payout_history', 'reversal_tombstones'];

/**
 * ANALYZEs those of `tables` that have doubled (plus minGrowthPages) since last analyzed; returns their names. Nothing
 * when another caller is at it (it holds the lock): the switches' next round looks again.
 */
export async function refreshStatistics(
  db: Knex, deadline: number, tables = LEDGER_TABLES, minGrowthPages = LEDGER_LIMITS.STATS_MIN_GROWTH_PAGES,
): Promise<string[]> {
  return inTransaction(db, 'statistics', deadline, async (q) => {
    // One at a time: the others find the lock taken and skip this round.
    const [lock] = await q.query<{ got: boolean }>(`SELECT pg_try_advisory_xact_lock(hashtext('ledger-statistics')) AS got`);
    if (!lock?.got) return [];
    // relpages is what the last ANALYZE (or VACUUM) saw; pg_relation_size is now.
    const grown = await q.query<{ name: string }>(
      `SELECT t AS name FROM unnest($1::text[]) AS t JOIN pg_class c ON c.oid = to_regclass(t)
        WHERE pg_relation_size(c.oid) / current_setting('block_size')::int >= 2 * greatest(c.relpages, 0) + $2`,
      [tables, minGrowthPages],
    );
    const names = grown.map((r) => r.name);
    if (names.length) await q.query(`ANALYZE ${names.join(', ')}`);
    return names;
  });
}
