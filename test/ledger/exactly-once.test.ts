// "Paid at most once in total, across every channel and every switch instance" (partner-interface.md §5):
// concurrent withdrawals through two independent ledger instances (own PostgreSQL pool, own Redis client,
// same PostgreSQL database and Redis DB), and the same with a Redis that wrongly says yes to everyone.
import test from 'ava';
import type { IsoMessage } from '../../switch/iso8583/message.ts';
import { Reservations } from '../../switch/ledger/reservations.ts';
import { writeBatch, type ReserveOp } from '../../switch/ledger/journal.ts';
import { seenKeyOf } from '../../switch/ledger/dedupe.ts';
import { encode } from '../../switch/iso8583/codec.ts';
import { Fixture, adult, send, withdrawal, confirmation, type Person } from './fixture.ts';

const CONCURRENT = 60;

async function hammer(f: Fixture, p: Person, concurrent: number): Promise<IsoMessage[]> {
  const [a, b] = [await f.ledger(), await f.ledger()];
  const requests = Array.from({ length: concurrent }, (_, i) =>
    withdrawal({ person: p, terminal: `ATM${String(i).padStart(5, '0')}`, stan: String(900_000 + i) }),
  );
  return Promise.all(requests.map((r, i) => send(i % 2 ? a : b, r)));
}

async function totals(f: Fixture): Promise<{ reserved: number; paid: number; withdrawals: number }> {
  const [p] = (await f.db.raw(`select coalesce(sum(reserved_minor),0)::int as reserved, coalesce(sum(paid_minor),0)::int as paid from payouts`)).rows;
  return { reserved: p.reserved, paid: p.paid, withdrawals: await f.count('withdrawals') };
}

test('one beneficiary hammered by 60 concurrent withdrawals through 2 instances: exactly one 00, and PostgreSQL holds exactly that approval', async (t) => {
  const f = await Fixture.create();
  try {
    const p = adult();
    await f.campaign('C1', [p]);
    const answers = await hammer(f, p, CONCURRENT);
    const approvals = answers.filter((r) => r.fields[39] === '00');
    t.is(approvals.length, 1);
    t.true(answers.every((r) => ['00', '09'].includes(r.fields[39]!)), `only 00 and 09: ${[...new Set(answers.map((r) => r.fields[39]))]}`);
    t.deepEqual(await totals(f), { reserved: 600_000, paid: 0, withdrawals: approvals.length });
  } finally {
    await f.destroy();
  }
});

test('many beneficiaries, each asked twice at once on two instances: one 00 per beneficiary, PostgreSQL totals equal the approvals seen', async (t) => {
  const f = await Fixture.create();
  try {
    const people = Array.from({ length: 40 }, () => adult());
    await f.campaign('C1', people);
    const [a, b] = [await f.ledger(), await f.ledger()];
    const answers = await Promise.all(
      people.flatMap((p, i) => [
        send(a, withdrawal({ person: p, terminal: 'ATMAAAAA', stan: String(100_000 + i) })),
        send(b, withdrawal({ person: p, terminal: 'ATMBBBBB', stan: String(200_000 + i) })),
      ]),
    );
    const approvals = answers.filter((r) => r.fields[39] === '00').length;
    t.is(approvals, people.length);
    t.deepEqual(await totals(f), { reserved: 600_000 * people.length, paid: 0, withdrawals: approvals });
  } finally {
    await f.destroy();
  }
});

test('even if Redis wrongly says yes to everyone, PostgreSQL refuses every second reservation: exactly one 00, the rest declines', async (t) => {
  const f = await Fixture.create();
  const original = Reservations.prototype.reserve;
  // A broken gate: it approves without looking (what a stale or wrongly rebuilt Redis could do).
  Reservations.prototype.reserve = async () => ({ status: 'OK', value: '-1' });
  try {
    const p = adult();
    await f.campaign('C1', [p]);
    const answers = await hammer(f, p, CONCURRENT);
    t.is(answers.filter((r) => r.fields[39] === '00').length, 1);
    t.true(answers.every((r) => ['00', '09'].includes(r.fields[39]!)), `declines are 09: ${[...new Set(answers.map((r) => r.fields[39]))]}`);
    t.deepEqual(await totals(f), { reserved: 600_000, paid: 0, withdrawals: 1 });
    // And after it is paid, the broken gate still cannot get a second payment through.
    const [w] = await f.db('withdrawals').select('stan', 'terminal');
    const approved = withdrawal({ person: p, terminal: w.terminal, stan: w.stan });
    await send(f.ledgers[0]!, confirmation(approved));
    const later = await send(f.ledgers[1]!, withdrawal({ person: p, terminal: 'ATMLATER' }));
    t.is(later.fields[39], '65');
  } finally {
    Reservations.prototype.reserve = original;
    await f.destroy();
  }
});

test('PostgreSQL refuses a second reservation of the same entitlement committed by separate transactions', async (t) => {
  const f = await Fixture.create();
  try {
    const p = adult();
    await f.campaign('C1', [p]);
    const id = String((await f.db('beneficiaries').first('id')).id);
    const op = (stan: string): ReserveOp => {
      const req = withdrawal({ person: p, stan });
      return {
        kind: 'reserve', seen: seenKeyOf(req, encode(req)), campaign: 'C1', beneficiaryId: id, amountMinor: 600_000, payoutStored: true,
        msg: { mti: '0200', acquirer: '004', terminal: 'ATM00001', stan, rrn: 'RRN000000001' }, transmitted: req.fields[7]!, windowMs: 600_000,
        approve: { outcome: 'APPROVED', extra: {} }, decline: (o) => ({ outcome: o, extra: {} }),
      };
    };
    const results = await Promise.all(['000001', '000002', '000003'].map((s) => writeBatch(f.db, [op(s)], f.clock.now(), Date.now() + 5_000)));
    const statuses = results.map((r) => r[0]!.status).sort();
    t.deepEqual(statuses, ['approved', 'refused', 'refused']);
    t.deepEqual(await totals(f), { reserved: 600_000, paid: 0, withdrawals: 1 });
  } finally {
    await f.destroy();
  }
});
