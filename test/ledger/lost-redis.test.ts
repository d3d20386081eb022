// A Redis that lost its data (FLUSHDB, a restart without persistence) is found out and rebuilt from PostgreSQL
// before anything is approved again; meanwhile 91. After the rebuild nobody is paid twice, and every approval
// a client saw is in PostgreSQL.
import test from 'ava';
import type { IsoMessage } from '../../switch/iso8583/message.ts';
import { epochKey, rebuildLockKey } from '../../switch/ledger/reservations.ts';
import { Fixture, adult, confirmation, send, withdrawal } from './fixture.ts';

const rc = (res: IsoMessage) => res.fields[39];

async function until(what: string, fn: () => Promise<boolean>, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('after FLUSHDB withdrawals get 91 until Redis is rebuilt; afterwards nobody is paid again and every approval seen is in PostgreSQL', async (t) => {
  const f = await Fixture.create();
  try {
    const [a, b, c, d] = [adult(), adult(), adult(), adult()];
    await f.campaign('C1', [a, b, c, d]);
    const one = await f.ledger();
    const two = await f.ledger();
    const approvals: IsoMessage[] = [];
    const wa = withdrawal({ person: a });
    const wb = withdrawal({ person: b });
    for (const [l, w] of [[one, wa], [two, wb]] as const) {
      const res = await send(l, w);
      t.is(rc(res), '00');
      approvals.push(res);
    }
    await send(one, confirmation(wb));

    // Another instance is (say) in the middle of the rebuild: hold its lock so "meanwhile" lasts.
    await f.redis.flushdb();
    await f.redis.set(rebuildLockKey('C1'), 'someone-else', 'PX', 60_000);
    const wc = withdrawal({ person: c });
    t.is(rc(await send(one, wc)), '91', 'Redis is known to be incomplete: 91');
    t.is(rc(await send(two, withdrawal({ person: d }))), '91');
    t.is(rc(await send(two, wc)), '91', 'and again: 91 is never stored, a retransmission is processed anew');
    t.is(await f.count('withdrawals'), 2);

    await f.redis.del(rebuildLockKey('C1'));
    await one.check();
    await two.check();
    t.truthy(await f.redis.get(epochKey('C1')), 'rebuilt');

    const after = [
      await send(two, wc),
      await send(one, withdrawal({ person: a, terminal: 'ATM00002' })),
      await send(two, withdrawal({ person: b, terminal: 'ATM00002' })),
    ];
    t.deepEqual(after.map(rc), ['00', '09', '65'], 'C is approved now; A (reserved) and B (paid) are not paid again');
    approvals.push(after[0]!);
    t.is(await f.count('withdrawals'), approvals.length, 'every approval seen is in PostgreSQL, nothing more');
  } finally {
    await f.destroy();
  }
});

test('a flushed Redis is found out and rebuilt by the periodic check, without any traffic', async (t) => {
  const f = await Fixture.create();
  try {
    const p = adult();
    await f.campaign('C1', [p, adult()]);
    const ledger = await f.ledger();
    const before = await f.redis.get(epochKey('C1'));
    await f.redis.flushdb();
    await until('the epoch is back', async () => (await f.redis.get(epochKey('C1'))) !== null);
    t.not(await f.redis.get(epochKey('C1')), before, 'a rebuild writes a new epoch');
    await until('approvals resume', async () => rc(await send(ledger, withdrawal({ person: p, stan: '123456' }))) === '00');
    t.pass();
  } finally {
    await f.destroy();
  }
});

test('a bucket from another load is not trusted: it is reloaded from PostgreSQL before it decides anything', async (t) => {
  const f = await Fixture.create();
  try {
    const p = adult();
    await f.campaign('C1', [p]);
    const ledger = await f.ledger();
    const epoch = await f.redis.get(epochKey('C1'));
    const [bucket] = await f.redis.keys('e:{C1:*}');
    await f.redis.hset(bucket!, '_', '12345'); // a bucket from some other load
    t.is(rc(await send(ledger, withdrawal({ person: p }))), '00', 'the stale bucket is reloaded from PostgreSQL before use');
    t.is(await f.redis.hget(bucket!, '_'), epoch);
  } finally {
    await f.destroy();
  }
});
