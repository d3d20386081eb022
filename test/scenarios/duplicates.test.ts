// partner-interface.md §6: a request is identified by DE32+DE41+DE11+DE7 within its MTI class; the same request
// again gets the same response and changes nothing; the same key with another body gets 94. And the golden messages.
import test from 'ava';
import type { IsoMessage } from '../../switch/iso8583/message.ts';
import type { LedgerOps } from '../../switch/ledger/index.ts';
import { Fixture, confirmation, reversal, send, withdrawal, inquiry, type Person, BANK } from '../ledger/fixture.ts';
import { golden } from '../helpers/golden.ts';
import { encode } from '../../switch/iso8583/codec.ts';

let f: Fixture;
let ledger: LedgerOps;

test.before(async () => {
  f = await Fixture.create();
  await f.campaign('C1', []);
  ledger = await f.ledger();
});

test.after.always(async () => {
  await f?.destroy();
});

const person = (extra: Partial<Person> = {}): Promise<Person> => f.latePerson(ledger, 'C1', extra);

const rc = (res: IsoMessage) => (res.fields[44] ? `${res.fields[39]} ${res.fields[44]}` : res.fields[39]!);

test('the same 0200 again, byte for byte, gets the same response and changes nothing', async (t) => {
  const p = await person();
  const w = withdrawal({ person: p });
  const first = await send(ledger, w);
  t.is(rc(first), '00');
  const before = await f.activity(p.nhi);
  const again = await send(ledger, w);
  t.deepEqual(again, first);
  t.deepEqual(await f.activity(p.nhi), before);
});

test('a retransmission that arrives while its original is still being processed gets the same approval, not 09', async (t) => {
  const p = await person();
  const w = withdrawal({ person: p });
  const [a, b, c] = await Promise.all([send(ledger, w), send(ledger, w), send(ledger, w)]);
  t.is(rc(a), '00');
  t.deepEqual(b, a);
  t.deepEqual(c, a);
  t.is((await f.activity(p.nhi))[1], 1, 'one withdrawal');
});

test('returns 94 when the same key arrives with a different body, and nothing changes', async (t) => {
  const p = await person();
  const w = withdrawal({ person: p });
  await send(ledger, w);
  const before = await f.activity(p.nhi);
  const other = { ...w, fields: { ...w.fields, 4: '000000500000' } };
  const res = await send(ledger, other);
  t.is(rc(res), '94 DUPLICATE');
  t.is(res.mti, '0210');
  t.deepEqual(await f.activity(p.nhi), before);
});

test('a declined 0200 retransmitted later gets the stored decline even though the state has changed since', async (t) => {
  const p = await person();
  const first = withdrawal({ person: p });
  await send(ledger, first);
  const second = withdrawal({ person: p, terminal: 'ATM00002' });
  t.is(rc(await send(ledger, second)), '09 IN_PROGRESS');
  await send(ledger, reversal(first));
  t.is(rc(await send(ledger, second)), '09 IN_PROGRESS', 'the retransmission hears what was said the first time');
  t.is(rc(await send(ledger, withdrawal({ person: p, terminal: 'ATM00003' }))), '00');
});

test('an inquiry retransmitted gets the same amount it was told the first time', async (t) => {
  const p = await person();
  const q = inquiry({ person: p });
  const first = await send(ledger, q);
  await send(ledger, withdrawal({ person: p }));
  t.deepEqual(await send(ledger, q), first);
});

test('the same key in another MTI class is another request: a 0420 with the 0200 key is not its duplicate', async (t) => {
  const p = await person();
  const w = withdrawal({ person: p });
  t.is(rc(await send(ledger, w)), '00');
  const r = reversal(w, { stan: w.fields[11], de7: w.fields[7] });
  t.is(rc(await send(ledger, r)), '00');
  t.is((await f.payout(p.nhi))!.state, 'AVAILABLE');
});

test('the same 0220 key with a different body gets 94 and is not recorded', async (t) => {
  const p = await person();
  const w = withdrawal({ person: p });
  await send(ledger, w);
  const c = confirmation(w);
  await send(ledger, c);
  const res = await send(ledger, { ...c, fields: { ...c.fields, 37: 'OTHERRRN0001' } });
  t.is(rc(res), '94 DUPLICATE');
  t.is(res.mti, '0230');
});

test('the same 0220 at two switches at once is recorded once: one settles the withdrawal, the other answers what was stored', async (t) => {
  const other = await f.ledger();
  const p = await person();
  const w = withdrawal({ person: p });
  t.is(rc(await send(ledger, w)), '00');
  const c = confirmation(w);
  // Each switch serializes a key only among its own requests: here the two meet in PostgreSQL.
  const [a, b] = await Promise.all([send(ledger, c), send(other, c)]);
  t.deepEqual([rc(a), rc(b)], ['00', '00']);
  const confirms = await f.db('payout_history').where({ event: 'CONFIRM', stan: c.fields[11]! });
  t.is(confirms.length, 1);
  t.is((await f.db('messages_seen').where({ mti_class: '022' }).andWhere('msg_key', 'like', `%|${c.fields[11]}|%`)).length, 1);
  const settled = await f.db('withdrawals').where({ terminal: w.fields[41]!, stan: w.fields[11]! }).first();
  t.is(settled.state, 'PAID');
});

test('a 0221 with the key of a 0420 is in another class and does not replay the reversal', async (t) => {
  const p = await person();
  const w = withdrawal({ person: p });
  await send(ledger, w);
  const r = reversal(w);
  await send(ledger, r);
  const c = confirmation(w, { mti: '0221', stan: r.fields[11], de7: r.fields[7] });
  const res = await send(ledger, c);
  t.is(res.mti, '0230');
  t.is(rc(res), '00');
  t.is((await f.payout(p.nhi))!.state, 'AVAILABLE', 'a confirmation of a reversed withdrawal changes nothing');
});

test('golden messages: inquiry, withdrawal, partial reversal and its repeat answer exactly the golden responses', async (t) => {
  const nhiNo = '000012345678';
  await f.addPeople('C1', [{ nhi: nhiNo, id: 'A123456789', birth: '1980-05-01' }]);
  const run = async (name: string) => {
    const v = golden(name);
    const msg: IsoMessage = { mti: v.mti, fields: Object.fromEntries(Object.entries(v.fields).map(([k, x]) => [Number(k), x])) };
    return ledger.handlers[v.mti as '0200'](msg, { bank: BANK, body: encode(msg) });
  };
  const expect = (name: string): IsoMessage => {
    const v = golden(name);
    return { mti: v.mti, fields: Object.fromEntries(Object.entries(v.fields).map(([k, x]) => [Number(k), x])) };
  };
  t.deepEqual(await run('inquiry'), expect('inquiry-answer'));
  t.deepEqual(await run('withdrawal'), expect('withdrawal-approved'));
  t.deepEqual(await run('partial-reversal'), expect('reversal-ack'));
  t.deepEqual(await run('reversal-repeat'), expect('reversal-ack'));
  t.deepEqual(await f.payout(nhiNo), { state: 'AVAILABLE', entitled: 600_000, paid: 400_000, reserved: 0 });
});
