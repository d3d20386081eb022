// The switch fails closed (partner-interface.md §7, 91): a Redis that is really stopped, a PostgreSQL that is
// really cut off (a TCP proxy we close), a group commit that fails. And it recovers by itself when they return.
import test from 'ava';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import type { IsoMessage } from '../../switch/iso8583/message.ts';
import { Reservations } from '../../switch/ledger/reservations.ts';
import { TOLD_UNAVAILABLE_KEY } from '../../switch/ledger/group-commit.ts';
import { Fixture, adult, confirmation, send, withdrawal } from './fixture.ts';

const rc = (res: IsoMessage) => res.fields[39];

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function until<T>(what: string, fn: () => Promise<T | null | false>, limitMs = 15_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A Redis of our own that we can stop: no persistence, so it restarts empty. */
class ThrowawayRedis {
  constructor(readonly port: number) {}
  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }
  async start(): Promise<void> {
    execFileSync('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes']);
    await until('redis-server up', async () => {
      const c = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      c.on('error', () => {});
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        c.disconnect();
      }
    });
  }
  async stop(): Promise<void> {
    const c = new Redis(this.url, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c.on('error', () => {});
    await c.call('SHUTDOWN', 'NOSAVE').catch(() => {});
    c.disconnect();
  }
}

/** A TCP proxy in front of PostgreSQL that we can cut. */
class Proxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  constructor(readonly port: number, private readonly target = { host: '127.0.0.1', port: 5432 }) {}
  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
  }
  async cut(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise((r) => s.close(r));
  }
}

test('Redis stopped: 91; advices are still recorded in PostgreSQL; Redis back (empty): rebuilt, approvals resume, nobody paid twice', async (t) => {
  const f = await Fixture.create();
  const redis = new ThrowawayRedis(await freePort());
  await redis.start();
  f.onClose(() => redis.stop());
  try {
    const a = adult();
    const b = adult();
    const control = new Redis(redis.url);
    control.on('error', () => {});
    f.onClose(() => control.disconnect());
    await f.campaign('C1', [a, b], { open: false });
    const { openCampaign } = await import('../../switch/ledger/opening.ts');
    await openCampaign(f.control(control), 'C1');
    const ledger = await f.ledger({ redisUrl: redis.url });
    const wa = withdrawal({ person: a });
    t.is(rc(await send(ledger, wa)), '00');

    await redis.stop();
    const wb = withdrawal({ person: b });
    t.is(rc(await send(ledger, wb)), '91');
    t.is(rc(await send(ledger, confirmation(wa))), '00', 'PostgreSQL records the advice; Redis is repaired from it later');
    t.is((await f.payout(a.nhi, 'C1'))!.state, 'PAID');
    t.is(await f.count('withdrawals'), 1);

    await redis.start(); // empty: no persistence
    const res = await until('approval after Redis returned', async () => {
      const r = await send(ledger, wb);
      return rc(r) === '00' ? r : null;
    });
    t.is(rc(res), '00');
    t.is(rc(await send(ledger, withdrawal({ person: a, terminal: 'ATM00002' }))), '65', 'A was paid once and is not paid again');
    t.is(await f.count('withdrawals'), 2);
  } finally {
    await f.destroy();
  }
});

test('PostgreSQL cut off: 91 for withdrawals and for advices, which are not recorded; it comes back: both go through', async (t) => {
  const f = await Fixture.create();
  const proxy = new Proxy(await freePort());
  await proxy.start();
  f.onClose(() => proxy.cut());
  try {
    const [a, b] = [adult(), adult()];
    await f.campaign('C1', [a, b]);
    const url = new URL(f.tdb.url);
    url.port = String(proxy.port);
    const ledger = await f.ledger({ dbUrl: url.toString() });
    const wa = withdrawal({ person: a });
    t.is(rc(await send(ledger, wa)), '00');

    await proxy.cut();
    const wb = withdrawal({ person: b });
    t.is(rc(await send(ledger, wb)), '91');
    const advice = confirmation(wa);
    t.is(rc(await send(ledger, advice)), '91');
    t.is((await f.payout(a.nhi))!.state, 'RESERVED', 'the advice was not recorded');
    t.is(await f.count('messages_seen'), 1, 'only the first approval is stored');
    t.is(await f.db('payouts').where({ state: 'RESERVED' }).count<{ n: string }[]>('* as n').then((r) => Number(r[0]!.n)), 1);

    await proxy.start();
    await until('approval after PostgreSQL returned', async () => rc(await send(ledger, wb)) === '00');
    // The bank repeats the advice until it hears 00.
    await until('the repeated advice is recorded', async () => rc(await send(ledger, { ...advice, mti: '0221' })) === '00');
    t.is((await f.payout(a.nhi))!.state, 'PAID');
    t.is((await f.payout(b.nhi))!.state, 'RESERVED');
  } finally {
    await f.destroy();
  }
});

test('a failure in a group commit approves nobody in it: each gets 91, its Redis reservation is undone, PostgreSQL unchanged', async (t) => {
  const f = await Fixture.create();
  try {
    const people = Array.from({ length: 20 }, () => adult());
    await f.campaign('C1', people);
    const ledger = await f.ledger();
    await f.db.raw(`CREATE FUNCTION fail_bad_terminal() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.terminal = 'BADTERM1' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$`);
    await f.db.raw(`CREATE TRIGGER fail_bad_terminal BEFORE INSERT ON withdrawals FOR EACH ROW EXECUTE FUNCTION fail_bad_terminal()`);
    const requests = people.map((p, i) => withdrawal({ person: p, terminal: i === 7 ? 'BADTERM1' : 'ATM00001' }));
    const answers = await Promise.all(requests.map((r) => send(ledger, r)));
    t.is(rc(answers[7]!), '91');
    const reservations = new Reservations(f.redis);
    const ids = (await f.db('beneficiaries').orderBy('id').select('id')).map((r) => String(r.id));
    let failed = 0;
    for (const [i, p] of people.entries()) {
      const payout = await f.payout(p.nhi);
      if (rc(answers[i]!) === '00') {
        t.is(payout!.state, 'RESERVED');
        continue;
      }
      failed++;
      t.is(rc(answers[i]!), '91');
      t.is(payout!.state, 'AVAILABLE', 'nothing committed for a 91');
      await until('the Redis reservation is undone', async () => (await reservations.value('C1', ids[i]!)) === '600000');
    }
    t.log(`${failed} of ${people.length} requests shared the failing batch`);
    t.is(await f.count('withdrawals'), people.length - failed);
    await f.db.raw(`DROP TRIGGER fail_bad_terminal ON withdrawals`);
    t.is(rc(await send(ledger, withdrawal({ person: people[7]!, terminal: 'ATM00001' }))), '00', 'the undone reservation can be made again');
  } finally {
    await f.destroy();
  }
});

test('a switch that told 91 and died before voiding the commit it left running: the next switch voids it, so the window never settles it as paid', async (t) => {
  const f = await Fixture.create();
  const proxy = new Proxy(await freePort());
  await proxy.start();
  f.onClose(() => proxy.cut());
  try {
    const p = adult();
    await f.campaign('C1', [p]);
    const url = new URL(f.tdb.url);
    url.port = String(proxy.port);
    const dying = await f.ledger({ dbUrl: url.toString() });
    // Someone holds the payout row: the group commit waits behind it past the deadline, and its client is told 91.
    const holder = await f.db.transaction();
    await holder.raw(`SELECT 1 FROM payouts FOR UPDATE`);
    const w = withdrawal({ person: p });
    t.is(rc(await send(dying, w)), '91');
    t.is(await f.redis.hlen(TOLD_UNAVAILABLE_KEY), 1, 'kept in Redis before the 91 went out');
    // The switch dies (it reaches PostgreSQL no more); the statement it left running commits once the row is free.
    await proxy.cut();
    await holder.commit();
    await until('the orphaned commit', async () => (await f.payout(p.nhi))?.state === 'RESERVED');

    const next = await f.ledger({ inDoubtRecoveryDelayMs: 0 });
    await until('voided by the next switch', async () => (await f.payout(p.nhi))?.state === 'AVAILABLE');
    t.deepEqual(await f.db('withdrawals').pluck('state'), ['VOIDED']);
    await until('no longer kept in Redis', async () => (await f.redis.hlen(TOLD_UNAVAILABLE_KEY)) === 0);
    t.is(rc(await send(next, w)), '91', 'a retransmission hears what its ATM was told');
    t.deepEqual(await next.settleDue(new Date(Date.now() + 86_400_000)), [], 'nothing left to settle as paid');
    t.is(rc(await send(next, withdrawal({ person: p }))), '00', 'the entitlement can still be collected');
  } finally {
    await f.destroy();
  }
});

test('a commit that lands after its client was told 91 is voided by the same switch, and its 91 becomes the stored answer', async (t) => {
  const f = await Fixture.create();
  try {
    const p = adult();
    await f.campaign('C1', [p]);
    const ledger = await f.ledger();
    const holder = await f.db.transaction();
    await holder.raw(`SELECT 1 FROM payouts FOR UPDATE`);
    const w = withdrawal({ person: p });
    t.is(rc(await send(ledger, w)), '91');
    await holder.commit();
    await until('voided', async () => (await f.db('withdrawals').pluck('state'))[0] === 'VOIDED');
    t.is((await f.payout(p.nhi))!.state, 'AVAILABLE');
    await until('no longer kept in Redis', async () => (await f.redis.hlen(TOLD_UNAVAILABLE_KEY)) === 0);
    t.is(rc(await send(ledger, w)), '91', 'a retransmission hears what its ATM was told');
    t.is(rc(await send(ledger, withdrawal({ person: p }))), '00');
  } finally {
    await f.destroy();
  }
});
