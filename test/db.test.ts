import test from 'ava';
import { freshDatabase, freshRedis } from './helpers/services.ts';
import { migrate } from '../switch/db.ts';

test('migrations apply to an empty database and a second run changes nothing', async (t) => {
  const tdb = await freshDatabase(false);
  try {
    const first = await migrate(tdb.db);
    t.true(first.length >= 3);
    t.true(first[0]!.startsWith('001_banks'));
    const second = await migrate(tdb.db);
    t.deepEqual(second, []);
    const { rows } = await tdb.db.raw(`select count(*)::int as n from campaign_states`);
    t.is(rows[0].n, 4);
  } finally {
    await tdb.drop();
  }
});

test('two test files never share a Redis logical DB', async (t) => {
  const a = await freshRedis();
  const b = await freshRedis();
  try {
    t.not(a.index, b.index);
    await a.redis.set('k', 'a');
    t.is(await b.redis.get('k'), null);
  } finally {
    await a.release();
    await b.release();
  }
});
