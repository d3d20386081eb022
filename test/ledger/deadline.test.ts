import test from 'ava';
import { beforeDeadline, DeadlinePassed } from '../../switch/ledger/deadline.ts';

const never = () => new Promise<never>(() => {});

test('a store that answers before the deadline passes its answer through', async (t) => {
  t.is(await beforeDeadline(Promise.resolve(42), Date.now() + 1_000, 'roster read'), 42);
});

test('a store that fails before the deadline passes its own error through', async (t) => {
  const e = await t.throwsAsync(beforeDeadline(Promise.reject(new Error('connection refused')), Date.now() + 1_000, 'roster read'));
  t.is(e?.message, 'connection refused');
});

test('a store that has not answered by the deadline is given up with DeadlinePassed naming the store', async (t) => {
  const e = await t.throwsAsync(beforeDeadline(never(), Date.now() + 30, 'group commit'), { instanceOf: DeadlinePassed });
  t.regex(e!.message, /^group commit: no answer before the deadline/);
});

test('a deadline already passed gives up at once', async (t) => {
  await t.throwsAsync(beforeDeadline(never(), Date.now() - 10, 'reserve'), { instanceOf: DeadlinePassed });
});

test('calls with the same deadline each get their own DeadlinePassed, and one that answered keeps its answer', async (t) => {
  const deadline = Date.now() + 40;
  const results = await Promise.allSettled([
    beforeDeadline(never(), deadline, 'roster read'),
    beforeDeadline(never(), deadline, 'reserve'),
    beforeDeadline(Promise.resolve('answered'), deadline, 'group commit'),
  ]);
  t.deepEqual(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message.split(':')[0] : r.value)), ['roster read', 'reserve', 'answered']);
});

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test.serial('a store that answers leaves no timer behind (nothing of the wait outlives it)', async (t) => {
  const before = timers();
  t.is(await beforeDeadline(Promise.resolve('answered'), Date.now() + 60_000, 'roster read'), 'answered');
  await t.throwsAsync(beforeDeadline(Promise.reject(new Error('refused')), Date.now() + 60_000, 'roster read'));
  t.is(timers(), before);
});

test('a store that fails after its deadline has passed is not an unhandled rejection', async (t) => {
  const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('connection reset')), 30));
  await t.throwsAsync(beforeDeadline(late, Date.now() + 5, 'group commit'), { instanceOf: DeadlinePassed });
  await new Promise((r) => setTimeout(r, 60)); // ava fails the run on an unhandled rejection
  t.pass();
});
