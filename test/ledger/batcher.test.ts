// The batcher's contract (switch/ledger/batcher.ts): who shares a batch, who goes at once, what is refused.
// Its run function here records the batches; nothing waits on a clock (an interval of a minute is never reached).
import test from 'ava';
import { Batcher, QueueFull, type BatcherOptions } from '../../switch/ledger/batcher.ts';

const LONG_MS = 60_000;

function recorder(opts: Partial<BatcherOptions> = {}) {
  const batches: number[][] = [];
  let release: () => void = () => {};
  let hold = false;
  const b = new Batcher<number, string>(
    async (items) => {
      batches.push(items);
      if (hold) await new Promise<void>((r) => (release = r));
      return items.map((i) => `r${i}`);
    },
    { name: 'test', maxBatch: 4, minIntervalMs: LONG_MS, maxQueue: 10, concurrency: 1, ...opts },
  );
  return { b, batches, holdNext: () => (hold = true), release: () => release() };
}

/** A few event-loop turns: enough for a batch that may start to have started. */
const turn = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
};

test('the first request after a quiet spell goes at once: it waits for no interval', async (t) => {
  const { b, batches } = recorder();
  const answer = b.submit(1);
  await turn();
  await turn();
  t.deepEqual(batches, [[1]]);
  t.is(await answer, 'r1');
  await b.stop();
});

test('requests of the same turn share one batch, each gets its own result in order', async (t) => {
  const { b, batches } = recorder();
  const answers = [b.submit(1), b.submit(2), b.submit(3)];
  t.deepEqual(await Promise.all(answers), ['r1', 'r2', 'r3']);
  t.deepEqual(batches, [[1, 2, 3]]);
  await b.stop();
});

test('under load, what arrives within the interval after a batch started waits and shares the next batch', async (t) => {
  const { b, batches } = recorder();
  await b.submit(1);
  const later = [b.submit(2), b.submit(3)];
  await turn();
  await turn();
  t.deepEqual(batches, [[1]], 'the interval has not passed: 2 and 3 wait');
  const stopped = b.stop(); // stop runs what is queued at once
  t.deepEqual(await Promise.all(later), ['r2', 'r3']);
  await stopped;
  t.deepEqual(batches, [[1], [2, 3]]);
});

test('a full batch goes at once, interval or not', async (t) => {
  const { b, batches } = recorder();
  await b.submit(0);
  const full = [1, 2, 3, 4].map((i) => b.submit(i));
  t.deepEqual(await Promise.all(full), ['r1', 'r2', 'r3', 'r4']);
  t.deepEqual(batches, [[0], [1, 2, 3, 4]]);
  await b.stop();
});

test('with no interval, a new batch starts as soon as the running one ends, holding all that queued meanwhile', async (t) => {
  const { b, batches, holdNext, release } = recorder({ minIntervalMs: 0, maxBatch: 100 });
  holdNext();
  const first = b.submit(1);
  await turn();
  const queued = [b.submit(2), b.submit(3), b.submit(4)];
  await turn();
  t.deepEqual(batches, [[1]], 'concurrency 1: the others wait for the running batch');
  release();
  await first;
  await turn();
  t.deepEqual(batches, [[1], [2, 3, 4]]);
  release();
  await Promise.all(queued);
  await b.stop();
});

test('beyond maxQueue a request is refused at once (QueueFull), and the queued ones still run', async (t) => {
  const { b, batches, holdNext, release } = recorder({ minIntervalMs: 0, maxBatch: 100, maxQueue: 2 });
  holdNext();
  const first = b.submit(1);
  await turn();
  const queued = [b.submit(2), b.submit(3)];
  await t.throwsAsync(b.submit(4), { instanceOf: QueueFull });
  release();
  await first;
  await turn();
  release();
  t.deepEqual(await Promise.all(queued), ['r2', 'r3']);
  t.deepEqual(batches, [[1], [2, 3]]);
  await b.stop();
});

test('when the run fails, every request of that batch gets the error and the next batch is not affected', async (t) => {
  let calls = 0;
  const b = new Batcher<number, number>(
    async (items) => {
      if (calls++ === 0) throw new Error('PostgreSQL went away');
      return items;
    },
    { name: 'test', maxBatch: 10, minIntervalMs: 0, maxQueue: 10, concurrency: 1 },
  );
  const failed = [b.submit(1), b.submit(2)];
  for (const f of failed) await t.throwsAsync(f, { message: /went away/ });
  t.is(await b.submit(3), 3);
  await b.stop();
});

test('after stop, submissions are refused', async (t) => {
  const { b } = recorder();
  await b.stop();
  await t.throwsAsync(b.submit(1), { instanceOf: QueueFull, message: /stopped/ });
});
