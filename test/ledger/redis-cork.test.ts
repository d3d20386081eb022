// The money path's Redis connection: the reservations issued in one event-loop turn leave in one write (corkTurn),
// every one of them answered, and the connection is uncorked when the turn ends.
import test from 'ava';
import { once } from 'node:events';
import { createRedis } from '../../switch/redis.ts';
import { Reservations, bucketKey } from '../../switch/ledger/reservations.ts';
import { freshRedis } from '../helpers/services.ts';

const EPOCH = 'e1';
const AMOUNT = 600_000;

async function setUp() {
  const tr = await freshRedis();
  const redis = createRedis(tr.url);
  if (redis.status !== 'ready') await once(redis, 'ready');
  const r = new Reservations(redis);
  // Two buckets of 256 loaded as a campaign open would load them.
  await r.loadBuckets('CORK', EPOCH, Array.from({ length: 512 }, (_, i) => ({ id: String(i), value: AMOUNT })));
  await r.setEpoch('CORK', EPOCH);
  // Counts the writes that reach the socket (net.Socket's own _write/_writev, on the real connection to Redis).
  const socket = redis.stream as unknown as { _write: Function; _writev: Function };
  const writes = { count: 0 };
  for (const name of ['_write', '_writev'] as const) {
    const real = socket[name];
    socket[name] = function (this: unknown, ...args: unknown[]) {
      writes.count++;
      return real.apply(this, args);
    };
  }
  return {
    r,
    redis,
    writes,
    async done() {
      redis.disconnect();
      await tr.release();
    },
  };
}

test('reservations issued in one turn leave in one write to Redis, and each gets its own answer', async (t) => {
  const s = await setUp();
  try {
    const now = new Date();
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => s.r.reserve('CORK', String(i), EPOCH, AMOUNT, now)));
    t.is(s.writes.count, 1);
    t.deepEqual(new Set(results.map((x) => x.status)), new Set(['OK']));
    t.is(s.redis.stream.writableCorked, 0);
    // Each reservation landed on its own entitlement.
    t.is(await s.redis.hget(bucketKey('CORK', 299), '43'), String(-Math.floor(now.getTime() / 1000)));
    t.is(await s.redis.hget(bucketKey('CORK', 300), '44'), String(AMOUNT));
  } finally {
    await s.done();
  }
});

test('reservations issued from separate callbacks of one event-loop pass share that write too', async (t) => {
  const s = await setUp();
  try {
    const now = new Date();
    const first = s.r.reserve('CORK', '1', EPOCH, AMOUNT, now);
    // A later callback of the same pass, after this one's turn has ended, as the next request read in that pass is.
    const second = await new Promise<ReturnType<Reservations['reserve']>>((resolve) => process.nextTick(() => resolve(s.r.reserve('CORK', '2', EPOCH, AMOUNT, now))));
    t.deepEqual([(await first).status, (await second).status], ['OK', 'OK']);
    t.is(s.writes.count, 1);
  } finally {
    await s.done();
  }
});

test('reservations in separate turns are not held back: each turn writes at once', async (t) => {
  const s = await setUp();
  try {
    const now = new Date();
    const first = await s.r.reserve('CORK', '1', EPOCH, AMOUNT, now);
    const second = await s.r.reserve('CORK', '1', EPOCH, AMOUNT, now);
    t.is(first.status, 'OK');
    t.is(second.status, 'RESERVED');
    t.is(s.writes.count, 2);
    t.is(s.redis.stream.writableCorked, 0);
  } finally {
    await s.done();
  }
});
