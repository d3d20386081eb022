// The import keeps several statements in flight on its connection (a chunk's COPY and the statement that applies it,
// the next chunk's COPY behind them). They are queued in our code, in order: pg warns that queueing on a busy client
// goes away in pg 9. In a file of its own: Node emits that warning once per process.
import test from 'ava';
import { Readable } from 'node:stream';
import { freshDatabase } from '../helpers/services.ts';
import { ManualClock } from '../../switch/clock.ts';
import { createCampaign } from '../../switch/campaigns.ts';
import { importRoster } from '../../switch/roster/import.ts';
import { syntheticRoster } from '../../switch/roster/synthetic.ts';

test('a roster imported over an existing one, chunk by chunk, loads every row and pg warns of nothing', async (t) => {
  const tdb = await freshDatabase();
  t.teardown(() => tdb.drop());
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  await createCampaign(tdb.db, { code: 'Q1' });
  const roster = syntheticRoster({ seed: 7, count: 3_000, today: '2026-12-03' });
  const csv = () => Readable.from(roster.csv());
  const opts = { identityKey: 'k', clock: new ManualClock('2026-12-03T02:00:00Z'), chunkRows: 500 };
  const first = await importRoster(tdb.db, 'Q1', csv(), opts);
  const again = await importRoster(tdb.db, 'Q1', csv(), opts);
  t.like(first, { rows: 3_000, rejected: 0 });
  t.like(again, { rows: 3_000, rejected: 0 });
  t.is(Number((await tdb.db('beneficiaries').where({ campaign_code: 'Q1' }).count<{ n: string }[]>('* as n'))[0]!.n), 3_000);
  await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
  t.deepEqual(warnings, []);
});
