// partner-interface.md §4–6 for what follows an approval: confirmation (0220/0221), the confirmation window on a
// controllable clock, reversals full and partial before and after confirmation, and the tombstone of an unknown original.
import test from 'ava';
import type { IsoMessage } from '../../switch/iso8583/message.ts';
import { ManualClock } from '../../switch/clock.ts';
import type { LedgerOps } from '../../switch/ledger/index.ts';
import { Fixture, T0, confirmation, inquiry, reversal, send, withdrawal, type Person } from '../ledger/fixture.ts';

const WINDOW_MS = 600_000;
let f: Fixture;
let ledger: LedgerOps;
const clock = new ManualClock(T0);

test.before(async () => {
  f = await Fixture.create(clock);
  await f.campaign('C1', [], { windowMs: WINDOW_MS });
  ledger = await f.ledger();
});

test.after.always(async () => {
  await f?.destroy();
});

const person = (extra: Partial<Person> = {}): Promise<Person> => f.latePerson(ledger, 'C1', extra);

function rc(res: IsoMessage): string {
  return res.fields[44] ? `${res.fields[39]} ${res.fields[44]}` : res.fields[39]!;
}

async function approved(p: Person, opts: Parameters<typeof withdrawal>[0] | object = {}): Promise<IsoMessage> {
  const w = withdrawal({ person: p, ...opts });
  const res = await send(ledger, w);
  if (res.fields[39] !== '00') throw new Error(`withdrawal not approved: ${rc(res)}`);
  return w;
}

test.serial('0220 confirms: the 0230 says 00 and the entitlement is PAID; a later withdrawal gets 65', async (t) => {
  const p = await person();
  const w = await approved(p);
  const res = await send(ledger, confirmation(w));
  t.is(res.mti, '0230');
  t.is(rc(res), '00');
  t.is(res.fields[90], confirmation(w).fields[90]);
  t.deepEqual(await f.payout(p.nhi), { state: 'PAID', entitled: 600_000, paid: 600_000, reserved: 0 });
  t.is((await f.db('withdrawals').where({ msg_key: `004|ATM00001|${w.fields[11]}|${w.fields[7]}` }).first()).state, 'PAID');
  t.is(rc(await send(ledger, withdrawal({ person: p }))), '65 ALREADY_COLLECTED');
});

test.serial('0220s arriving together share one statement and each is settled as if alone: its own withdrawal, its own history line; an unknown original is recorded and changes nothing', async (t) => {
  const people = await Promise.all(Array.from({ length: 12 }, () => person()));
  const ws = await Promise.all(people.map((p) => approved(p)));
  const cs = ws.map((w) => confirmation(w));
  const stranger = confirmation(withdrawal({ person: await person() })); // its 0200 never came
  const answers = await Promise.all([...cs, stranger].map((c) => send(ledger, c)));
  t.deepEqual(answers.map(rc), Array(13).fill('00'));
  for (const [i, p] of people.entries()) {
    t.deepEqual(await f.payout(p.nhi), { state: 'PAID', entitled: 600_000, paid: 600_000, reserved: 0 });
    const line = await f.db('payout_history').where({ event: 'CONFIRM', stan: cs[i]!.fields[11]! });
    t.is(line.length, 1);
    t.is(line[0]!.mti, '0220');
    t.is((await f.db('withdrawals').where({ id: line[0]!.withdrawal_id }).first()).stan, ws[i]!.fields[11]);
  }
  t.is((await f.db('payout_history').where({ stan: stranger.fields[11]! })).length, 0);
  t.is(rc(await send(ledger, { ...stranger, mti: '0221' })), '00', 'its answer was stored: the repeat hears it');
});

test.serial('0221 repeats are processed at most once and answered every time, also with a new DE7', async (t) => {
  const p = await person();
  const w = await approved(p);
  const c = confirmation(w);
  t.is(rc(await send(ledger, c)), '00');
  const before = await f.activity(p.nhi);
  const repeat = { ...c, mti: '0221' };
  const r1 = await send(ledger, repeat);
  t.is(r1.mti, '0230');
  t.is(rc(r1), '00');
  t.is(rc(await send(ledger, confirmation(w, { mti: '0221', de7: '1203090000', stan: c.fields[11] }))), '00');
  t.deepEqual(await f.activity(p.nhi), before, 'one CONFIRM in the history, nothing else changed');
});

test.serial('no advice within the confirmation window: settled PAID when the window has passed, not before (clock-driven)', async (t) => {
  const p = await person();
  await approved(p);
  clock.advance(WINDOW_MS - 1_000);
  t.deepEqual(await ledger.settleDue(clock.now()), []);
  t.is((await f.payout(p.nhi))!.state, 'RESERVED');
  clock.advance(1_000);
  const settled = await ledger.settleDue(clock.now());
  t.is(settled.length, 1);
  t.deepEqual(await f.payout(p.nhi), { state: 'PAID', entitled: 600_000, paid: 600_000, reserved: 0 });
  t.deepEqual(await ledger.settleDue(clock.now()), [], 'settling again does nothing');
  t.is(rc(await send(ledger, withdrawal({ person: p, terminal: 'ATM00009' }))), '65 ALREADY_COLLECTED');
});

test.serial('the window settles nothing that was confirmed or reversed meanwhile', async (t) => {
  const a = await person();
  const b = await person();
  const wa = await approved(a);
  const wb = await approved(b);
  await send(ledger, confirmation(wa));
  await send(ledger, reversal(wb));
  const before = [await f.activity(a.nhi), await f.activity(b.nhi)];
  clock.advance(WINDOW_MS + 1);
  t.deepEqual(await ledger.settleDue(clock.now()), []);
  t.deepEqual([await f.activity(a.nhi), await f.activity(b.nhi)], before);
});

test.serial('full reversal before confirmation re-opens the whole entitlement: the next withdrawal is approved', async (t) => {
  const p = await person();
  const w = await approved(p);
  const res = await send(ledger, reversal(w));
  t.is(res.mti, '0430');
  t.is(rc(res), '00');
  t.deepEqual(await f.payout(p.nhi), { state: 'AVAILABLE', entitled: 600_000, paid: 0, reserved: 0 });
  t.is((await send(ledger, inquiry({ person: p }))).fields[54], '0002C901000000600000');
  t.is(rc(await send(ledger, withdrawal({ person: p, terminal: 'ATM00002' }))), '00');
});

test.serial('full reversal after confirmation is honoured: PAID goes back to AVAILABLE', async (t) => {
  const p = await person();
  const w = await approved(p);
  await send(ledger, confirmation(w));
  t.is(rc(await send(ledger, reversal(w))), '00');
  t.deepEqual(await f.payout(p.nhi), { state: 'AVAILABLE', entitled: 600_000, paid: 0, reserved: 0 });
  t.is(rc(await send(ledger, withdrawal({ person: p, terminal: 'ATM00002' }))), '00');
});

test.serial('partial reversal keeps what was dispensed as paid and re-opens the rest; the next withdrawal must ask exactly the rest', async (t) => {
  const p = await person();
  const w = await approved(p);
  t.is(rc(await send(ledger, reversal(w, { dispensedMinor: 400_000 }))), '00');
  t.deepEqual(await f.payout(p.nhi), { state: 'AVAILABLE', entitled: 600_000, paid: 400_000, reserved: 0 });
  t.is((await send(ledger, inquiry({ person: p }))).fields[54], '0002C901000000200000');
  t.is(rc(await send(ledger, withdrawal({ person: p, terminal: 'ATM00002' }))), '13 AMOUNT_MISMATCH');
  const rest = withdrawal({ person: p, terminal: 'ATM00003', amountMinor: 200_000 });
  t.is(rc(await send(ledger, rest)), '00');
  await send(ledger, confirmation(rest));
  t.deepEqual(await f.payout(p.nhi), { state: 'PAID', entitled: 600_000, paid: 600_000, reserved: 0 });
  t.is(rc(await send(ledger, withdrawal({ person: p, terminal: 'ATM00004', amountMinor: 200_000 }))), '65 ALREADY_COLLECTED');
});

test.serial('partial reversal after confirmation takes back only what was not dispensed', async (t) => {
  const p = await person();
  const w = await approved(p);
  await send(ledger, confirmation(w));
  t.is(rc(await send(ledger, reversal(w, { dispensedMinor: 100_000 }))), '00');
  t.deepEqual(await f.payout(p.nhi), { state: 'AVAILABLE', entitled: 600_000, paid: 100_000, reserved: 0 });
  t.is(rc(await send(ledger, withdrawal({ person: p, terminal: 'ATM00002', amountMinor: 500_000 }))), '00');
});

test.serial('a reversal saying everything was dispensed leaves the entitlement PAID', async (t) => {
  const p = await person();
  const w = await approved(p);
  t.is(rc(await send(ledger, reversal(w, { dispensedMinor: 600_000 }))), '00');
  t.deepEqual(await f.payout(p.nhi), { state: 'PAID', entitled: 600_000, paid: 600_000, reserved: 0 });
});

test.serial('0421 repeats of a reversal are processed at most once: a partial reversal is never applied twice', async (t) => {
  const p = await person();
  const w = await approved(p);
  const r = reversal(w, { dispensedMinor: 400_000 });
  await send(ledger, r);
  const before = await f.activity(p.nhi);
  const again = await send(ledger, { ...r, mti: '0421' });
  t.is(again.mti, '0430');
  t.is(rc(again), '00');
  t.is(rc(await send(ledger, reversal(w, { mti: '0421', dispensedMinor: 400_000, stan: r.fields[11], de7: '1203093000' }))), '00');
  t.is(rc(await send(ledger, reversal(w, { dispensedMinor: 0 }))), '00', 'another reversal of the same original changes nothing');
  t.deepEqual(await f.activity(p.nhi), before);
});

test.serial('a reversal of an unknown original is acknowledged (0430 00) and the late original is declined 12 REVERSED_EARLIER with nothing reserved', async (t) => {
  const p = await person();
  const original = withdrawal({ person: p, terminal: 'ATM00077' });
  const ack = await send(ledger, reversal(original));
  t.is(ack.mti, '0430');
  t.is(rc(ack), '00');
  const before = await f.activity(p.nhi);
  t.is(rc(await send(ledger, original)), '12 REVERSED_EARLIER');
  t.deepEqual(await f.activity(p.nhi), before);
  t.is(rc(await send(ledger, withdrawal({ person: p, terminal: 'ATM00078' }))), '00', 'another withdrawal of the same person is not affected');
});

test.serial('a reversal that overtakes its original while the original is still committing: the original gets 12 and nothing stays reserved', async (t) => {
  const p = await person();
  const original = withdrawal({ person: p, terminal: 'ATM00088' });
  // Hold the campaign row so the original's group commit waits just before it reserves.
  const trx = await f.db.transaction();
  await trx.raw(`SELECT 1 FROM campaigns WHERE code = 'C1' FOR UPDATE`);
  const pending = send(ledger, original);
  await new Promise((r) => setTimeout(r, 150));
  t.is(rc(await send(ledger, reversal(original))), '00');
  await trx.commit();
  t.is(rc(await pending), '12 REVERSED_EARLIER');
  t.deepEqual(await f.payout(p.nhi), { state: 'AVAILABLE', entitled: 600_000, paid: 0, reserved: 0 });
  t.is((await f.db('withdrawals').where({ terminal: 'ATM00088' }).first()).state, 'VOIDED', 'its reservation was made, then undone before answering');
  t.is(rc(await send(ledger, original)), '12 REVERSED_EARLIER', 'and so does its retransmission');
  t.is(rc(await send(ledger, withdrawal({ person: p, terminal: 'ATM00089' }))), '00');
});

test.serial('the window after a partial reversal settles the rest that was withdrawn later', async (t) => {
  const p = await person();
  const w = await approved(p);
  await send(ledger, reversal(w, { dispensedMinor: 400_000 }));
  await approved(p, { terminal: 'ATM00002', amountMinor: 200_000 });
  clock.advance(WINDOW_MS);
  await ledger.settleDue(clock.now());
  t.deepEqual(await f.payout(p.nhi), { state: 'PAID', entitled: 600_000, paid: 600_000, reserved: 0 });
});

test.serial('every change is in the history with its message: MTI, bank, terminal, STAN, RRN, amount', async (t) => {
  const p = await person();
  const w = await approved(p);
  const c = confirmation(w);
  await send(ledger, c);
  const r = reversal(w, { dispensedMinor: 250_000 });
  await send(ledger, r);
  const rows = await f.db('payout_history').whereIn('stan', [w.fields[11]!, c.fields[11]!, r.fields[11]!]).orderBy('id');
  t.deepEqual(
    rows.map((h) => [h.event, h.mti, h.acquirer, h.terminal, h.stan, h.rrn, Number(h.amount_minor), h.from_state, h.to_state]),
    [
      ['RESERVE', '0200', '004', 'ATM00001', w.fields[11], w.fields[37], 600_000, 'AVAILABLE', 'RESERVED'],
      ['CONFIRM', '0220', '004', 'ATM00001', c.fields[11], c.fields[37], 600_000, 'RESERVED', 'PAID'],
      ['REVERSE', '0420', '004', 'ATM00001', r.fields[11], r.fields[37], 350_000, 'PAID', 'AVAILABLE'],
    ],
  );
});

test.serial('a confirmation from another bank than DE32 says is declined 58 and changes nothing', async (t) => {
  const p = await person();
  const w = await approved(p);
  const before = await f.activity(p.nhi);
  const res = await send(ledger, confirmation(w), { code: '700', name: 'x', macKey: null, active: true });
  t.is(rc(res), '58 NOT_PARTICIPATING');
  t.deepEqual(await f.activity(p.nhi), before);
});

test.serial('advices are still recorded after the campaign closed; withdrawals are not', async (t) => {
  const p = await person();
  const q = await person();
  const w = await approved(p);
  await f.close('C1');
  t.is(rc(await send(ledger, withdrawal({ person: q }))), '12 CAMPAIGN_CLOSED');
  t.is(rc(await send(ledger, confirmation(w))), '00');
  t.is((await f.payout(p.nhi))!.state, 'PAID');
  await f.open('C1');
  await ledger.check();
  t.is(rc(await send(ledger, withdrawal({ person: q }))), '00');
});

test.serial('purge drops stored answers and tombstones older than 48 hours, and keeps newer ones', async (t) => {
  const p = await person();
  await send(ledger, reversal(withdrawal({ person: p, terminal: 'ATM00099' })));
  const seen = await f.count('messages_seen');
  const tombs = await f.count('reversal_tombstones');
  t.true(seen > 0 && tombs > 0);
  const [{ oldest }] = (await f.db.raw(`select min(created_at) as oldest from messages_seen`)).rows;
  t.deepEqual(await ledger.purgeExpired(new Date(oldest.getTime() + 48 * 3600_000)), { seen: 0, tombstones: 0 });
  const purged = await ledger.purgeExpired(new Date(clock.now().getTime() + 48 * 3600_000 + 1));
  t.is(purged.seen, seen);
  t.is(purged.tombstones, tombs);
  t.is(await f.count('messages_seen'), 0);
});
