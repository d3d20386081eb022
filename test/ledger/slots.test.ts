// The bound on advices using PostgreSQL at once (switch/ledger/slots.ts).
import test from 'ava';
import { Slots, SlotsFull } from '../../switch/ledger/slots.ts';
import { DeadlinePassed } from '../../switch/ledger/deadline.ts';

const later = (ms = 10_000) => Date.now() + ms;

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

test('at most max callers run at once; the others run in arrival order as slots free up', async (t) => {
  const slots = new Slots('advice', 2, 10);
  const gates = [gate(), gate(), gate(), gate()];
  const started: number[] = [];
  let running = 0;
  let most = 0;
  const runs = gates.map((g, i) =>
    slots.run(later(), async () => {
      started.push(i);
      most = Math.max(most, ++running);
      await g.opened;
      running--;
    }),
  );
  await new Promise((r) => setImmediate(r));
  t.deepEqual(started, [0, 1]);
  t.is(slots.queued, 2);
  gates[1]!.open();
  await runs[1];
  await new Promise((r) => setImmediate(r));
  t.deepEqual(started, [0, 1, 2]);
  for (const g of gates) g.open();
  await Promise.all(runs);
  t.deepEqual(started, [0, 1, 2, 3]);
  t.is(most, 2);
  t.is(slots.inUse, 0);
});

test('beyond maxQueue waiting, a caller is refused at once and its work does not run', async (t) => {
  const slots = new Slots('advice', 1, 1);
  const g = gate();
  const first = slots.run(later(), () => g.opened);
  const second = slots.run(later(), async () => 'second');
  let ran = false;
  await t.throwsAsync(slots.run(later(), async () => void (ran = true)), { instanceOf: SlotsFull });
  t.false(ran);
  g.open();
  await first;
  t.is(await second, 'second');
});

test('a caller whose deadline passes while waiting gives up, and the slot it would have had goes to the next one', async (t) => {
  const slots = new Slots('advice', 1, 10);
  const g = gate();
  const first = slots.run(later(), () => g.opened);
  let ran = false;
  const expiring = slots.run(Date.now() + 20, async () => void (ran = true));
  const patient = slots.run(later(), async () => 'patient');
  await t.throwsAsync(expiring, { instanceOf: DeadlinePassed });
  g.open();
  await first;
  t.is(await patient, 'patient');
  t.false(ran);
  t.is(slots.inUse, 0);
  t.is(slots.queued, 0);
});

test('a failing caller gives its slot back', async (t) => {
  const slots = new Slots('advice', 1, 10);
  await t.throwsAsync(slots.run(later(), async () => { throw new Error('store failed'); }), { message: 'store failed' });
  t.is(slots.inUse, 0);
  t.is(await slots.run(later(), async () => 'next'), 'next');
});
