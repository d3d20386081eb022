import test from 'ava';
import { Fixture, adult, withdrawal, confirmation, reversal, send, OTHER_BANK, BANK } from '../ledger/fixture.ts';
import { createAdmin } from '../../switch/admin/server.ts';
import { LinkServer } from '../../switch/link/server.ts';
import { silentLogger } from '../../switch/log.ts';
import { ledgerPaidTwd } from '../../simulators/atm/ledger-figure.ts';
import type { AddressInfo } from 'node:net';

test('settlement per bank counts what left the ATMs: paid, partially reversed, fully reversed and still reserved', async (t) => {
  const f = await Fixture.create();
  t.teardown(() => f.destroy());
  const people = Array.from({ length: 5 }, () => adult());
  await f.campaign('C1', people);
  const ledger = await f.ledger();
  const w = people.map((p, i) => withdrawal({ person: p, acquirer: i < 4 ? BANK.code : OTHER_BANK.code, terminal: `ATM0000${i}` }));
  for (const [i, m] of w.entries()) t.is((await send(ledger, m, i < 4 ? BANK : OTHER_BANK)).fields[39], '00');
  t.is((await send(ledger, confirmation(w[0]!))).fields[39], '00'); // paid 6,000
  t.is((await send(ledger, reversal(w[1]!, { dispensedMinor: 400_000 }))).fields[39], '00'); // paid 4,000
  t.is((await send(ledger, reversal(w[2]!))).fields[39], '00'); // paid nothing
  // w[3] (bank 004) and w[4] (bank 700) stay reserved.

  const link = new LinkServer({ findBank: async () => null, handlers: {}, logger: silentLogger });
  const admin = createAdmin({ link, db: f.db, checks: {} });
  t.teardown(() => admin.close());
  const res = await admin.inject({ url: '/v1/campaigns/C1/settlement' });
  t.is(res.statusCode, 200);
  const body = res.json();
  t.deepEqual(body.banks, [
    { bank: '004', approvals: 4, paid_count: 1, reversed_count: 2, reserved_count: 1, paid_minor: 1_000_000, reserved_minor: 600_000 },
    { bank: '700', approvals: 1, paid_count: 0, reversed_count: 0, reserved_count: 1, paid_minor: 0, reserved_minor: 600_000 },
  ]);
  t.is(body.paid_minor, 1_000_000);
  t.is(body.reserved_minor, 1_200_000);
  t.is((await admin.inject({ url: '/v1/campaigns/NOPE/settlement' })).statusCode, 404);

  // What the ATM simulator's reconciliation reads, over real HTTP.
  await admin.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(admin.server.address() as AddressInfo).port}`;
  t.is(await ledgerPaidTwd(base, 'C1', '004'), 10_000);
  t.is(await ledgerPaidTwd(base, 'C1', '812'), 0);
  await t.throwsAsync(() => ledgerPaidTwd(base, 'NOPE', '004'), { message: /answered 404/ });
});

test('health is 503 and names the store that is down', async (t) => {
  const link = new LinkServer({ findBank: async () => null, handlers: {}, logger: silentLogger });
  const admin = createAdmin({
    link,
    db: undefined as never,
    checks: { postgres: async () => 1, redis: async () => Promise.reject(new Error('connection refused')) },
  });
  t.teardown(() => admin.close());
  const res = await admin.inject({ url: '/healthz' });
  t.is(res.statusCode, 503);
  t.is(res.json().redis, 'down: connection refused');
  t.is(res.json().postgres, 'ok');
});

test('the ops API shows how many withdrawals were decided from the in-memory roster copy and the copies held, with no personal data', async (t) => {
  const f = await Fixture.create();
  t.teardown(() => f.destroy());
  const people = [adult(), adult()];
  await f.campaign('C1', people);
  const ledger = await f.ledger();
  for (const p of people) t.is((await send(ledger, withdrawal({ person: p }))).fields[39], '00');
  const link = new LinkServer({ findBank: async () => null, handlers: {}, logger: silentLogger });
  const admin = createAdmin({ link, db: f.db, checks: {}, rosterCopies: () => ledger.rosterCopies() });
  t.teardown(() => admin.close());
  const body = (await admin.inject({ url: '/v1/roster-copies' })).json();
  t.like(body, { from_copy: 2, from_postgres: 0, reread: 0 });
  t.is(body.copies.length, 1);
  t.like(body.copies[0], { campaign: 'C1', cards: 2 });
  t.true(body.copies[0].bytes > 0);
  const text = JSON.stringify(body);
  for (const p of people) t.false(text.includes(p.nhi) || text.includes(p.id));
  const without = createAdmin({ link, db: f.db, checks: {} });
  t.teardown(() => without.close());
  t.is((await without.inject({ url: '/v1/roster-copies' })).statusCode, 404);
});

test('the ops API shows how long withdrawals waited on each store: a roster read only when not decided from the copy, the Redis reservation, the group commit', async (t) => {
  const f = await Fixture.create();
  t.teardown(() => f.destroy());
  const people = [adult(), adult(), adult()];
  await f.campaign('C1', people);
  const withCopy = await f.ledger();
  const withoutCopy = await f.ledger({ rosterCopies: false });
  t.is((await send(withCopy, withdrawal({ person: people[0]! }))).fields[39], '00');
  t.is((await send(withCopy, withdrawal({ person: people[1]! }))).fields[39], '00');
  t.is((await send(withoutCopy, withdrawal({ person: people[2]! }))).fields[39], '00');
  // Declined by Redis before any commit: a reservation is asked for, no group commit for a reservation follows.
  t.is((await send(withCopy, withdrawal({ person: people[0]! }))).fields[39], '09');
  const link = new LinkServer({ findBank: async () => null, handlers: {}, logger: silentLogger });
  const stagesOf = async (ledger: typeof withCopy) => {
    const admin = createAdmin({ link, db: f.db, checks: {}, stages: () => ledger.stages() });
    t.teardown(() => admin.close());
    return (await admin.inject({ url: '/v1/latency' })).json().withdrawal_stages;
  };
  const a = await stagesOf(withCopy);
  t.deepEqual(Object.keys(a).sort(), ['group_commit', 'redis_reserve']);
  t.is(a.redis_reserve.count, 3);
  t.is(a.group_commit.count, 2);
  t.true(a.group_commit.p50_ms > 0 && a.group_commit.p50_ms <= a.group_commit.p99_ms, JSON.stringify(a.group_commit));
  const b = await stagesOf(withoutCopy);
  t.like(b, { roster_read: { count: 1 }, redis_reserve: { count: 1 }, group_commit: { count: 1 } });
});
