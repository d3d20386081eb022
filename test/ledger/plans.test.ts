// The money path's statements probe indexes by key, whatever the planner statistics say. A campaign opens with
// messages_seen and nhi_cards empty; a generic plan made then scans them whole once per request, and it stays
// while they grow by thousands of rows a second.
import test from 'ava';
import pg from 'pg';
import { freshDatabase } from '../helpers/services.ts';
import { MONEY_PATH_SESSION, withConnection } from '../../switch/ledger/pg.ts';
import { READ_SQL } from '../../switch/ledger/journal.ts';

const request = JSON.stringify([{ i: 0, cls: '020', msg_key: 'k', campaign: 'C', nhi: '00'.repeat(16), claimant: '11'.repeat(16) }]);

function seqScans(plan: unknown): string[] {
  const found: string[] = [];
  const walk = (n: Record<string, unknown>) => {
    if (n['Node Type'] === 'Seq Scan') found.push(String(n['Relation Name']));
    for (const c of (n['Plans'] as Record<string, unknown>[] | undefined) ?? []) walk(c);
  };
  walk((plan as Array<{ Plan: Record<string, unknown> }>)[0]!.Plan);
  return found;
}

/** The read's plan as one session makes it on empty tables, then uses it after messages_seen filled up. */
async function planAfterGrowth(url: string, session: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(session);
    await c.query(`PREPARE r(json) AS ${READ_SQL}`);
    await c.query(`EXPLAIN EXECUTE r('${request}')`); // the generic plan is made now, on empty tables
    await c.query(`INSERT INTO messages_seen (mti_class, msg_key, body_hash, response, created_at)
                   SELECT '020', 'k' || i, decode(repeat('ab', 32), 'hex'), '{}'::jsonb, now() FROM generate_series(1, 5000) i`);
    const r = await c.query(`EXPLAIN (FORMAT JSON) EXECUTE r('${request}')`);
    await c.query('DELETE FROM messages_seen');
    return seqScans(r.rows[0]['QUERY PLAN']);
  } finally {
    await c.end();
  }
}

test('the roster read keeps probing indexes after tables it was planned on empty have grown', async (t) => {
  const tdb = await freshDatabase();
  try {
    await tdb.db.raw('VACUUM ANALYZE messages_seen, nhi_cards, beneficiaries, payouts');
    // Control: the same generic plan without the money path's session settings scans them.
    t.true((await planAfterGrowth(tdb.url, 'SET plan_cache_mode = force_generic_plan')).includes('messages_seen'));
    t.deepEqual(await planAfterGrowth(tdb.url, MONEY_PATH_SESSION), []);
  } finally {
    await tdb.drop();
  }
});

test('every money-path connection carries the session settings', async (t) => {
  const tdb = await freshDatabase();
  try {
    const [row] = await withConnection(tdb.db, 'settings', Date.now() + 10_000, (q) =>
      q.query<{ plan_cache_mode: string; enable_seqscan: string; jit: string }>(
        `SELECT current_setting('plan_cache_mode') AS plan_cache_mode, current_setting('enable_seqscan') AS enable_seqscan,
                current_setting('jit') AS jit`,
      ),
    );
    t.deepEqual(row, { plan_cache_mode: 'force_generic_plan', enable_seqscan: 'off', jit: 'off' });
  } finally {
    await tdb.drop();
  }
});
