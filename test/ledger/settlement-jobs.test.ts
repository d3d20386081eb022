// The confirmation window with real BullMQ delayed jobs and the real clock: a short window, an approval, the
// instance that approved stops before the window ends, another one starts: the job still settles it.
import test from 'ava';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { systemClock } from '../../switch/clock.ts';
import { SETTLEMENT_QUEUE } from '../../switch/jobs/settlement.ts';
import { Fixture, adult, confirmation, send, withdrawal } from './fixture.ts';

const WINDOW_MS = 1_500;

async function until(what: string, fn: () => Promise<boolean>, limitMs = 15_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a delayed job settles an unconfirmed withdrawal when the window ends, even after the instance that approved it stopped', async (t) => {
  const f = await Fixture.create();
  try {
    const [a, b] = [adult(), adult()];
    await f.campaign('C1', [a, b], { windowMs: WINDOW_MS });
    const first = await f.ledger({ jobs: true, clock: systemClock });
    const wa = withdrawal({ person: a });
    const wb = withdrawal({ person: b });
    t.is((await send(first, wa)).fields[39], '00');
    t.is((await send(first, wb)).fields[39], '00');
    const [{ id }] = await f.db('withdrawals').where({ stan: wa.fields[11] }).select('id');

    const connection = new Redis(f.tredis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(SETTLEMENT_QUEUE, { connection });
    f.onClose(async () => {
      await queue.close();
      connection.disconnect();
    });
    await until('the job is queued', async () => (await queue.getJob(`settle-${id}`)) !== undefined);
    const job = (await queue.getJob(`settle-${id}`))!;
    t.is(job.opts.delay, WINDOW_MS, 'job id = the first withdrawal of its group, delay = the campaign window');
    t.true((job.data as { withdrawalIds: string[] }).withdrawalIds.includes(String(id)));

    await first.stop();
    await send(await f.ledger({ jobs: false, clock: systemClock }), confirmation(wb)); // b confirmed meanwhile
    t.is((await f.payout(a.nhi))!.state, 'RESERVED');
    await f.ledger({ jobs: true, clock: systemClock });
    await until('a settled by the window', async () => (await f.payout(a.nhi))!.state === 'PAID');
    const events = await f.db('payout_history').whereIn('event', ['CONFIRM', 'SETTLE_WINDOW']).orderBy('id').select('event', 'withdrawal_id');
    t.deepEqual(
      events.map((e) => e.event).sort(),
      ['CONFIRM', 'SETTLE_WINDOW'],
      'the window settled a only; b, confirmed, was left alone when its job ran',
    );
    await until('b’s job ran too', async () => (await queue.getJobs(['delayed', 'wait', 'active'])).every((j) => j.name !== 'settle'));
    t.is(await f.db('payout_history').where({ event: 'SETTLE_WINDOW' }).count<{ n: string }[]>('* as n').then((r) => Number(r[0]!.n)), 1);
  } finally {
    await f.destroy();
  }
});

test('withdrawals approved together are settled by one job that names each of them', async (t) => {
  const f = await Fixture.create();
  try {
    const people = Array.from({ length: 12 }, () => adult());
    await f.campaign('C1', people, { windowMs: 60_000 });
    const ledger = await f.ledger({ jobs: true, clock: systemClock });
    const answers = await Promise.all(people.map((p) => send(ledger, withdrawal({ person: p }))));
    t.deepEqual(answers.map((a) => a.fields[39]), people.map(() => '00'));
    const ids = (await f.db('withdrawals').select('id')).map((r) => String(r.id)).sort();

    const connection = new Redis(f.tredis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(SETTLEMENT_QUEUE, { connection });
    f.onClose(async () => {
      await queue.close();
      connection.disconnect();
    });
    const named = async () =>
      (await queue.getJobs(['delayed'])).filter((j) => j.name === 'settle').flatMap((j) => (j.data as { withdrawalIds: string[] }).withdrawalIds);
    await until('every withdrawal has its job', async () => (await named()).length >= ids.length);
    const all = await named();
    t.deepEqual([...all].sort(), ids, 'each approved withdrawal is named once');
    t.true((await queue.getJobs(['delayed'])).length < ids.length, 'fewer jobs than withdrawals');
  } finally {
    await f.destroy();
  }
});
