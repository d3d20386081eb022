// The Redis layout: bucketed hashes that stay listpacks, every key of a call in one hash slot, and the memory an
// entitlement costs (target ≤ 48 bytes at 1 M; one key per person costs ~136 B).
import test from 'ava';
import { Fixture } from './fixture.ts';
import { Reservations, bucketKey, epochKey, fieldOf } from '../../switch/ledger/reservations.ts';
import { LEDGER_LIMITS } from '../../switch/ledger/limits.ts';

const PEOPLE = 20_000;
const MAX_BYTES_PER_ENTITLEMENT = 48;

test('each entitlement costs at most 48 bytes of Redis memory, in buckets that stay listpacks', async (t) => {
  const f = await Fixture.create();
  try {
    await f.db('campaigns').insert({ code: 'MEM', name: 'MEM', amount_minor: 600_000 });
    await f.db.raw(
      `INSERT INTO beneficiaries (campaign_code, id_hash, nhi_hash, birth_date, amount_minor)
       SELECT 'MEM', substr(sha256(i::text::bytea), 1, 16), substr(sha256(('nhi' || i)::bytea), 1, 16), date '1980-01-01' + (i % 20000), 600000
         FROM generate_series(1, ?) i`,
      [PEOPLE],
    );
    const report = await f.open('MEM');
    t.is(report.entitlements, PEOPLE);
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await f.redis.scan(cursor, 'MATCH', 'e:{MEM:*}', 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    t.is(keys.length, report.buckets);
    let bytes = 0;
    for (const k of keys) {
      bytes += Number(await f.redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'));
      t.is(await f.redis.call('OBJECT', 'ENCODING', k), 'listpack', k);
    }
    const perEntitlement = bytes / PEOPLE;
    t.log(`Redis: ${perEntitlement.toFixed(1)} bytes per entitlement over ${PEOPLE} (${keys.length} buckets of ${LEDGER_LIMITS.BUCKET_ENTRIES})`);
    t.true(perEntitlement <= MAX_BYTES_PER_ENTITLEMENT, `${perEntitlement} bytes per entitlement`);
    // After a mixed workload (reserved values are wider), buckets are still listpacks.
    const r = new Reservations(f.redis);
    const epoch = (await f.redis.get(epochKey('MEM')))!;
    const first = (await f.db('payouts').orderBy('beneficiary_id').first('beneficiary_id')).beneficiary_id;
    for (let i = 0; i < LEDGER_LIMITS.BUCKET_ENTRIES; i++) await r.reserve('MEM', String(Number(first) + i), epoch, 600_000, f.clock.now());
    t.is(await f.redis.call('OBJECT', 'ENCODING', bucketKey('MEM', first)), 'listpack');
  } finally {
    await f.destroy();
  }
});

test('all keys of one script call share a hash slot: the campaign and bucket are the hash tag', (t) => {
  t.is(bucketKey('C1', 0), 'e:{C1:0}');
  t.is(bucketKey('C1', 255), 'e:{C1:0}');
  t.is(bucketKey('C1', 256), 'e:{C1:1}');
  t.is(fieldOf(257), '1');
  t.is(epochKey('C1'), 'e:{C1}:epoch');
});

test('the scripts keep one value per entitlement: > 0 available, 0 paid, < 0 reserved since that second', async (t) => {
  const f = await Fixture.create();
  try {
    const r = new Reservations(f.redis);
    await r.loadBuckets('X', '7', [{ id: '1', value: 600_000 }, { id: '2', value: 600_000 }]);
    const now = f.clock.now();
    t.deepEqual(await r.reserve('X', '1', '8', 600_000, now), { status: 'NOT_READY', value: null }, 'another epoch: not ready');
    t.deepEqual(await r.reserve('X', '1', '7', 500_000, now), { status: 'AMOUNT', value: '600000' });
    const ok = await r.reserve('X', '1', '7', 600_000, now);
    t.is(ok.status, 'OK');
    t.is(Number(ok.value), -Math.floor(now.getTime() / 1000));
    t.is((await r.reserve('X', '1', '7', 600_000, now)).status, 'RESERVED');
    t.is(await r.releasePartial('X', '1', '7', 600_000, 400_000), 'OK');
    t.is(await r.value('X', '1'), '200000', 'partial release keeps the dispensed part, re-opens the rest');
    t.is((await r.reserve('X', '1', '7', 200_000, now)).status, 'OK');
    t.is(await r.confirm('X', '1', '7'), 'OK');
    t.is((await r.reserve('X', '1', '7', 200_000, now)).status, 'PAID');
    t.is(await r.release('X', '1', '7', 200_000), 'OK');
    t.is(await r.value('X', '1'), '200000', 'a full release re-opens the amount the withdrawal took');
    t.is(await r.cas('X', '1', '7', '999', 5), 'CHANGED', 'compare-and-set leaves a value that changed');
    t.is(await r.cas('X', '1', '7', '200000', 5), 'OK');
    t.is((await r.reserve('X', '3', '7', 600_000, now)).status, 'OK', 'an entitlement imported after the load starts from what PostgreSQL said');
  } finally {
    await f.destroy();
  }
});

test('a reservation older than the lease, while PostgreSQL says AVAILABLE, can be taken over; a fresh one cannot', async (t) => {
  const f = await Fixture.create();
  try {
    const r = new Reservations(f.redis);
    await r.loadBuckets('X', '7', [{ id: '1', value: 600_000 }]);
    const then = f.clock.now();
    t.is((await r.reserve('X', '1', '7', 600_000, then)).status, 'OK');
    const later = new Date(then.getTime() + LEDGER_LIMITS.RESERVATION_LEASE_MS - 1_000);
    t.is((await r.reserve('X', '1', '7', 600_000, later)).status, 'RESERVED');
    const expired = new Date(then.getTime() + LEDGER_LIMITS.RESERVATION_LEASE_MS);
    t.is((await r.reserve('X', '1', '7', 600_000, expired)).status, 'OK');
  } finally {
    await f.destroy();
  }
});
