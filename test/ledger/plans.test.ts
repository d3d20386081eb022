// The money path's statements probe indexes by key, whatever the planner statistics say. A campaign opens with
// messages_seen and nhi_cards empty; a generic plan made then scans them whole once per request, and it stays
// while they grow by thousands of rows a second.
import test from 'ava';
import pg from 'pg';
import { freshDatabase, freshRedis } from '../helpers/services.ts';
import { MONEY_PATH_SESSION, statementName, withConnection } from '../../switch/ledger/pg.ts';
import { refreshStatistics } from '../../switch/ledger/statistics.ts';
import { CONFIRM_BATCH_SQL, READ_SQL, RESERVE_SQL, SETTLE_SQL } from '../../switch/ledger/journal.ts';
import { openCampaign } from '../../switch/ledger/opening.ts';
import { importRoster } from '../../switch/roster/import.ts';
import { syntheticRoster } from '../../switch/roster/synthetic.ts';
import { addBank } from '../../switch/banks.ts';
import { createCampaign } from '../../switch/campaigns.ts';
import { DEV_IDENTITY_KEY } from '../../switch/config.ts';
import { createRedis } from '../../switch/redis.ts';
import { systemClock } from '../../switch/clock.ts';
import { silentLogger } from '../../switch/log.ts';

const READ = {
  sql: READ_SQL,
  types: 'json',
  args: `'${JSON.stringify([{ i: 0, cls: '020', msg_key: 'k', campaign: 'C', nhi: '00'.repeat(16), claimant: '11'.repeat(16) }])}'`,
};
// A reservation decided from the in-memory roster copy: the group commit looks up its key in messages_seen.
const RESERVE = {
  sql: RESERVE_SQL,
  types: 'json, timestamptz',
  args: `'${JSON.stringify([{ ord: 0, kind: 'reserve', cls: '020', msg_key: 'k', body_hash: 'ab'.repeat(32), response: {}, bid: 1, amount: 600000, campaign: 'C', acquirer: '1', terminal: 'T', stan: '1', transmitted: '1', rrn: '1', window_ms: 1, roster_version: 1 }])}', now()`,
};

/**
 * The scans of the given tables in a plan that read the whole table or index: a Seq Scan, or an index scan with no
 * condition (what a hashed SubPlan over the table becomes when sequential scans are off).
 */
function wholeScans(plan: unknown, tables = /^messages_seen/): string[] {
  const found: string[] = [];
  const walk = (n: Record<string, unknown>) => {
    const type = String(n['Node Type']);
    const what = String(n['Relation Name'] ?? n['Index Name']);
    if (tables.test(what) && (type === 'Seq Scan' || (/Index/.test(type) && !n['Index Cond']))) found.push(`${type} on ${what}`);
    for (const c of (n['Plans'] as Record<string, unknown>[] | undefined) ?? []) walk(c);
  };
  walk((plan as Array<{ Plan: Record<string, unknown> }>)[0]!.Plan);
  return found;
}

/**
 * A statement's plans as sessions make them on empty (analyzed) tables, then use them after messages_seen filled up:
 * one plan per session given, in a database of its own.
 */
async function plansAfterGrowth(sessions: string[], s: { sql: string; types: string; args: string }): Promise<string[][]> {
  const tdb = await freshDatabase();
  try {
    await tdb.db.raw('VACUUM ANALYZE');
    const plans: string[][] = [];
    for (const session of sessions) plans.push(await planAfterGrowth(tdb.url, session, s));
    return plans;
  } finally {
    await tdb.drop();
  }
}

async function planAfterGrowth(url: string, session: string, s: { sql: string; types: string; args: string }): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(session);
    await c.query(`PREPARE r(${s.types}) AS ${s.sql}`);
    await c.query(`EXPLAIN EXECUTE r(${s.args})`); // the generic plan is made now, on empty tables
    await c.query(`INSERT INTO messages_seen (mti_class, msg_key, body_hash, response, created_at)
                   SELECT '020', 'k' || i, decode(repeat('ab', 32), 'hex'), '{}'::jsonb, now() FROM generate_series(1, 5000) i`);
    const r = await c.query(`EXPLAIN (FORMAT JSON) EXECUTE r(${s.args})`);
    await c.query('DELETE FROM messages_seen');
    return wholeScans(r.rows[0]['QUERY PLAN']);
  } finally {
    await c.end();
  }
}

test('the roster read keeps probing indexes after tables it was planned on empty have grown', async (t) => {
  // Control: the same generic plan without the money path's session settings scans them.
  t.deepEqual(await plansAfterGrowth(['SET plan_cache_mode = force_generic_plan', MONEY_PATH_SESSION], READ), [['Seq Scan on messages_seen'], []]);
});

test('the group commit looks up each key in messages_seen by its index, not by reading the whole table per batch', async (t) => {
  t.deepEqual(await plansAfterGrowth([MONEY_PATH_SESSION], RESERVE), [[]]);
});

test('a roster import and a campaign open remake the plans made on an empty roster (the read then probes by key); a small import does not', async (t) => {
  const [tdb, tredis] = await Promise.all([freshDatabase(), freshRedis()]);
  const redis = createRedis(tredis.url, { commandTimeout: 10_000, enableOfflineQueue: true });
  const c = new pg.Client({ connectionString: tdb.url });
  await c.connect();
  try {
    await tdb.db.raw('VACUUM ANALYZE');
    await c.query(MONEY_PATH_SESSION);
    await c.query(`PREPARE r(json) AS ${READ_SQL}`);
    await c.query(`EXPLAIN EXECUTE r(${READ.args})`); // planned on the empty roster
    await addBank(tdb.db, '004', 'Test Bank');
    await createCampaign(tdb.db, { code: 'C' });
    const roster = syntheticRoster({ seed: 1, count: 10_000 });
    // What the planner believes a table holds (ANALYZE sets it at once; PostgreSQL replans statements when it changes).
    const believed = async (table: string) => Number((await c.query(`SELECT reltuples FROM pg_class WHERE relname = $1`, [table])).rows[0].reltuples);
    await importRoster(tdb.db, 'C', (async function* () { yield* roster.csv(); })(), { identityKey: DEV_IDENTITY_KEY });
    t.is(await believed('beneficiaries'), 10_000);
    await openCampaign({ db: tdb.db, redis, clock: systemClock, logger: silentLogger }, 'C');
    t.is(await believed('payouts'), 10_000);
    // A small import into that roster does not pay for a sample of it: the plans still fit.
    const more = await importRoster(tdb.db, 'C', (async function* () { yield* syntheticRoster({ seed: 3, count: 50 }).csv(); })(), { identityKey: DEV_IDENTITY_KEY });
    t.true(more.new > 0);
    t.is(await believed('beneficiaries'), 10_000);
    const r = await c.query(`EXPLAIN (FORMAT JSON) EXECUTE r(${READ.args})`);
    // nhi_cards is left out: no card was superseded, so it is still empty, and only an import fills it.
    t.deepEqual(wholeScans(r.rows[0]['QUERY PLAN'], /^(beneficiaries|payouts)/), []);
  } finally {
    await c.end();
    redis.disconnect();
    await tredis.release();
    await tdb.drop();
  }
});

test('the statistics of withdrawals follow its growth, and the plans made on it empty with them: a settlement then finds its withdrawal by id, not among all reserved ones', async (t) => {
  const [tdb, tredis] = await Promise.all([freshDatabase(), freshRedis()]);
  const redis = createRedis(tredis.url, { commandTimeout: 10_000, enableOfflineQueue: true });
  try {
    await addBank(tdb.db, '004', 'Test Bank');
    await createCampaign(tdb.db, { code: 'C' });
    const roster = syntheticRoster({ seed: 2, count: 6_000 });
    await importRoster(tdb.db, 'C', (async function* () { yield* roster.csv(); })(), { identityKey: DEV_IDENTITY_KEY });
    await openCampaign({ db: tdb.db, redis, clock: systemClock, logger: silentLogger }, 'C');
    await tdb.db.raw('VACUUM ANALYZE withdrawals');
    const settle = [[], new Date()];
    // The settlement's plan (the window's; confirmations settle the same way), as a money-path connection uses it:
    // made on first use, and kept.
    const plan = () =>
      withConnection(tdb.db, 'plan', Date.now() + 10_000, async (q) => {
        await q.query(SETTLE_SQL, settle);
        const pid = (await q.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]!.pid;
        const [r] = await q.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) EXECUTE ${statementName(SETTLE_SQL)}('{}', now())`);
        return { pid, whole: wholeScans(r!['QUERY PLAN'], /^withdrawals/) };
      });
    const before = await plan();
    await tdb.db.raw(`INSERT INTO withdrawals (campaign_code, beneficiary_id, msg_key, acquirer, terminal, stan, transmitted, rrn, amount_minor, reserved_at, due_at)
                      SELECT campaign_code, beneficiary_id, 'k' || beneficiary_id, '004', 'T', '1', '1', '1', entitled_minor, now(), now() FROM payouts`);
    // Control: planned on the empty table, the plan reads every reserved withdrawal to find the one settled.
    t.deepEqual((await plan()).whole, ['Index Scan on withdrawals']);
    t.deepEqual(await refreshStatistics(tdb.db, Date.now() + 10_000), ['withdrawals']);
    t.deepEqual(await refreshStatistics(tdb.db, Date.now() + 10_000), [], 'not again until it has doubled');
    const after = await plan();
    t.is(after.pid, before.pid, 'the same connection, its plan made again');
    t.deepEqual(after.whole, []);
    // The 0220s' batch, planned now, finds each withdrawal by its key and each answer by its key.
    const confirms = await withConnection(tdb.db, 'plan', Date.now() + 10_000, async (q) => {
      await q.query(CONFIRM_BATCH_SQL, ['[]', new Date()]);
      const [r] = await q.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) EXECUTE ${statementName(CONFIRM_BATCH_SQL)}('[]', now())`);
      return wholeScans(r!['QUERY PLAN'], /^(withdrawals|payouts|messages_seen)/);
    });
    t.deepEqual(confirms, []);
  } finally {
    redis.disconnect();
    await tredis.release();
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
