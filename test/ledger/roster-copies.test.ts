// A switch decides a withdrawal from its in-memory copy of the roster when the card is in it (no PostgreSQL read),
// and gives exactly the answers it gives from PostgreSQL: what the copy cannot know (a newer roster, an answer or a
// tombstone already stored for the key) the group commit finds, and the request is decided again from PostgreSQL.
import test, { type ExecutionContext } from 'ava';
import type { IsoMessage } from '../../switch/iso8583/message.ts';
import type { LedgerOps } from '../../switch/ledger/index.ts';
import { writeBatch, type ReserveOp } from '../../switch/ledger/journal.ts';
import { seenKeyOf } from '../../switch/ledger/dedupe.ts';
import { encode } from '../../switch/iso8583/codec.ts';
import { RosterCopies } from '../../switch/ledger/roster-copies.ts';
import { silentLogger, type Logger } from '../../switch/log.ts';
import { Fixture, adult, idNo, inquiry, nhi, reversal, send, withdrawal, type Person } from './fixture.ts';

const answered = (res: IsoMessage) => (res.fields[44] ? `${res.fields[39]} ${res.fields[44]}` : res.fields[39]!);

/** People and the request each makes, as the withdrawal scenarios have them (partner-interface §5, §7). */
function cases(): Array<{ name: string; person: Person; request: (p: Person) => IsoMessage }> {
  const g = () => [idNo()];
  return [
    { name: 'an adult collects', person: adult(), request: (p) => withdrawal({ person: p }) },
    { name: 'a stranger claims', person: adult(), request: (p) => withdrawal({ person: p, claimant: idNo() }) },
    { name: 'a guardian collects for a child under 7', person: adult({ birth: '2022-01-01', guardians: g() }), request: (p) => withdrawal({ person: p, claimant: p.guardians![0] }) },
    { name: 'a child under 7 claims for themself', person: adult({ birth: '2022-01-01', guardians: g() }), request: (p) => withdrawal({ person: p }) },
    { name: 'a child of 7 to 12 collects', person: adult({ birth: '2016-06-01', guardians: g() }), request: (p) => withdrawal({ person: p }) },
    { name: 'a guardian claims for a 13-year-old', person: adult({ birth: '2013-12-03', guardians: g() }), request: (p) => withdrawal({ person: p, claimant: p.guardians![0] }) },
    { name: 'the amount is not the entitlement', person: adult(), request: (p) => withdrawal({ person: p, amountMinor: 500_000 }) },
    { name: 'the roster row gives its own amount', person: adult({ amountMinor: 300_000 }), request: (p) => withdrawal({ person: p, amountMinor: 300_000 }) },
    { name: 'the roster row says less than asked', person: adult({ amountMinor: 300_000 }), request: (p) => withdrawal({ person: p }) },
    { name: 'the card is unknown', person: adult(), request: (p) => withdrawal({ person: { ...p, nhi: nhi() } }) },
    { name: 'the currency is not TWD', person: adult(), request: (p) => withdrawal({ person: p, currency: '840' }) },
    { name: 'an inquiry', person: adult(), request: (p) => inquiry({ person: p }) },
  ];
}

/** A fixture with campaign C1 of `people` open, and a started ledger; both gone when the test ends. */
async function ledgerWith(t: ExecutionContext, people: Person[], rosterCopies: boolean): Promise<{ f: Fixture; ledger: LedgerOps }> {
  const f = await Fixture.create();
  t.teardown(() => f.destroy());
  await f.campaign('C1', people);
  return { f, ledger: await f.ledger({ rosterCopies }) };
}

test('every rule gives the same code decided from the in-memory roster as from PostgreSQL, and a known card is decided without a roster read', async (t) => {
  const table = cases();
  const people = table.map((c) => c.person);
  const fromCopy = await ledgerWith(t, people, true);
  const fromPg = await ledgerWith(t, people, false);
  t.is(fromCopy.ledger.rosterCopies().copies.length, 1, 'the open campaign was copied at start');
  for (const c of table) {
    const req = c.request(c.person);
    const a = answered(await send(fromCopy.ledger, req));
    const b = answered(await send(fromPg.ledger, req));
    t.is(a, b, c.name);
    t.deepEqual(await fromCopy.f.activity(c.person.nhi), await fromPg.f.activity(c.person.nhi), `${c.name}: the same ledger state`);
  }
  const stats = fromCopy.ledger.rosterCopies();
  // The unknown card and the inquiry read PostgreSQL; the currency check comes before the roster but still looks the card up.
  t.is(stats.fromCopy, table.length - 2);
  t.is(stats.fromPostgres, 2);
  t.is(stats.reread, 0);
  t.is(fromPg.ledger.rosterCopies().fromCopy, 0);
});

test('a card replaced after the copy was loaded gets 14 SUPERSEDED_CARD at once, and nothing is reserved', async (t) => {
  const p = adult();
  const { f, ledger } = await ledgerWith(t, [p], true);
  const newCard = nhi();
  await f.replaceCard('C1', p.nhi, newCard);
  const before = await f.activity(newCard);
  // Whether the periodic check saw the change first (PostgreSQL read) or the group commit did (reread), the answer is the same.
  t.is(answered(await send(ledger, withdrawal({ person: p }))), '14 SUPERSEDED_CARD');
  t.deepEqual(await f.activity(newCard), before, 'nothing reserved in PostgreSQL');
  t.is(answered(await send(ledger, withdrawal({ person: { ...p, nhi: newCard } }))), '00', 'and Redis was given back: the new card is approved');
});

test('the group commit commits nothing decided from a copy older than the roster, nor for a key already answered, and says which version it holds', async (t) => {
  const p = adult();
  const { f } = await ledgerWith(t, [p], false);
  const [{ id }] = await f.db('beneficiaries').select('id');
  const [{ version }] = (await f.db.raw(`SELECT version::text FROM roster_version`)).rows;
  const op = (stan: string, rosterVersion: string): ReserveOp => {
    const req = withdrawal({ person: p, stan });
    return {
      kind: 'reserve', seen: seenKeyOf(req, encode(req)), campaign: 'C1', beneficiaryId: String(id), amountMinor: 600_000, payoutStored: true,
      msg: { mti: '0200', acquirer: '004', terminal: 'ATM00001', stan, rrn: 'RRN000000001' }, transmitted: req.fields[7]!, windowMs: 600_000,
      approve: { outcome: 'APPROVED', extra: {} }, decline: (o) => ({ outcome: o, extra: {} }), rosterVersion,
    };
  };
  const commit = (o: ReserveOp) => writeBatch(f.db, [o], f.clock.now(), Date.now() + 5_000);
  const older = String(BigInt(version) - 1n);
  t.deepEqual(await commit(op('000001', older)), [{ status: 'reread', rosterVersion: version }]);
  t.is(await f.count('withdrawals'), 0);
  const [approved] = await commit(op('000002', version));
  t.is(approved!.status, 'approved');
  const again = op('000002', version);
  // Not 'refused' (the entitlement is reserved) nor 'duplicate': the key has an answer the copy could not know.
  t.deepEqual(await commit(again), [{ status: 'reread', rosterVersion: version }]);
  t.is(await f.count('withdrawals'), 1);
});

test('a copy older than the roster is reloaded by the periodic check, and withdrawals are decided from it again', async (t) => {
  const p = adult();
  const { f, ledger } = await ledgerWith(t, [p], true);
  const loaded = ledger.rosterCopies().copies[0]!.version;
  const q = adult();
  await f.addPeople('C1', [q]);
  await ledger.check();
  await ledger.check(); // the first check starts the load in the background; the second waits for nothing but lets it finish
  for (let i = 0; i < 50 && ledger.rosterCopies().copies[0]?.version === loaded; i++) await new Promise((r) => setTimeout(r, 20));
  const reloaded = ledger.rosterCopies().copies[0]!;
  t.not(reloaded.version, loaded);
  t.is(reloaded.cards, 2);
  const before = ledger.rosterCopies().fromCopy;
  t.is(answered(await send(ledger, withdrawal({ person: q }))), '00');
  t.is(ledger.rosterCopies().fromCopy, before + 1, 'the new person is in the reloaded copy');
});

test('a 0200 whose reversal arrived first gets 12 REVERSED_EARLIER from the copy path too, and reserves nothing', async (t) => {
  const p = adult();
  const { f, ledger } = await ledgerWith(t, [p], true);
  const original = withdrawal({ person: p });
  t.is((await send(ledger, reversal(original))).fields[39], '00');
  const before = await f.activity(p.nhi);
  t.is(answered(await send(ledger, original)), '12 REVERSED_EARLIER');
  t.deepEqual(await f.activity(p.nhi), before);
  t.is(ledger.rosterCopies().reread, 1, 'decided from the copy, then again from PostgreSQL, which knew of the tombstone');
  t.is(answered(await send(ledger, withdrawal({ person: p }))), '00', 'the entitlement is still there for a new request');
});

test('the same 0200 again after its approval was reversed gets the stored approval and changes nothing', async (t) => {
  const p = adult();
  const { f, ledger } = await ledgerWith(t, [p], true);
  const w = withdrawal({ person: p });
  const first = await send(ledger, w);
  t.is(answered(first), '00');
  t.is((await send(ledger, reversal(w))).fields[39], '00');
  const before = await f.activity(p.nhi);
  t.deepEqual(await send(ledger, w), first);
  t.deepEqual(await f.activity(p.nhi), before, 'no reservation made and undone: the history is as it was');
  t.is(ledger.rosterCopies().reread, 1);
});

test('with the copies off, every withdrawal reads the roster from PostgreSQL', async (t) => {
  const p = adult();
  const { f, ledger } = await ledgerWith(t, [p], false);
  t.is(answered(await send(ledger, withdrawal({ person: p }))), '00');
  t.like(ledger.rosterCopies(), { fromCopy: 0, fromPostgres: 1, copies: [] });
});

test('a switch whose roster copy cannot load in time starts anyway, decides from PostgreSQL meanwhile, and loads the copy later', async (t) => {
  const p = adult();
  const f = await Fixture.create();
  t.teardown(() => f.destroy());
  await f.campaign('C1', [p]);
  // The copy's reads wait behind this lock; PostgreSQL reads of the money path too, so the withdrawal comes after it.
  const blocker = await f.db.transaction();
  await blocker.raw('LOCK TABLE beneficiaries IN ACCESS EXCLUSIVE MODE');
  const ledger = await f.ledger({ rosterCopyStartWaitMs: 200 });
  t.deepEqual(ledger.rosterCopies().copies, [], 'started without the copy');
  const answer = send(ledger, withdrawal({ person: p })); // finds no copy: its PostgreSQL read waits behind the lock
  await new Promise((r) => setTimeout(r, 100));
  await blocker.rollback();
  t.is(answered(await answer), '00');
  t.like(ledger.rosterCopies(), { fromCopy: 0, fromPostgres: 1 });
  for (let i = 0; i < 100 && ledger.rosterCopies().copies.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.is(ledger.rosterCopies().copies[0]?.cards, 1, 'the load went on and finished');
});

test('without the roster version row, a decision from the copy is never trusted: every withdrawal is decided from PostgreSQL, and answered', async (t) => {
  const people = [adult(), adult()];
  const { f, ledger } = await ledgerWith(t, people, true);
  await f.db('roster_version').delete();
  t.is(answered(await send(ledger, withdrawal({ person: people[0]! }))), '00');
  t.is(ledger.rosterCopies().reread, 1, 'decided from the copy, then from PostgreSQL');
  t.is(answered(await send(ledger, withdrawal({ person: people[0]! }))), '09 IN_PROGRESS');
  await ledger.check();
  t.is(answered(await send(ledger, withdrawal({ person: people[1]! }))), '00');
  t.is(await f.count('withdrawals'), 2);
});

/** A logger that keeps its warnings. */
function warnings(): { logger: Logger; warned: string[] } {
  const warned: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (msg) => void warned.push(msg), child: () => logger };
  return { logger, warned };
}

test('a copy that fails to load (too large) is not tried again at the same roster version, but is at the next', async (t) => {
  const f = await Fixture.create();
  t.teardown(() => f.destroy());
  await f.campaign('C1', [adult()]);
  const { logger, warned } = warnings();
  const copies = new RosterCopies({ db: f.db, logger, enabled: true, maxEntries: 0 });
  t.teardown(() => copies.stop());
  await copies.sync(['C1'], '5');
  await copies.sync(['C1'], '5');
  await copies.sync(['C1'], '5');
  t.is(warned.length, 1, 'one load tried at version 5');
  await copies.sync(['C1'], '6');
  t.is(warned.length, 2, 'tried again once the roster changed');
  t.deepEqual(copies.stats().copies, []);
});

test('stopping does not wait for a copy that cannot finish loading, and the copy is not kept', async (t) => {
  const f = await Fixture.create();
  t.teardown(() => f.destroy());
  await f.campaign('C1', [adult()]);
  const copies = new RosterCopies({ db: f.db, logger: silentLogger, enabled: true });
  const blocker = await f.db.transaction();
  await blocker.raw('LOCK TABLE beneficiaries IN ACCESS EXCLUSIVE MODE');
  const loading = copies.sync(['C1'], '5');
  await copies.stop(); // would wait for the lock below, which is only released after it: the test would hang
  await blocker.rollback();
  await loading;
  t.deepEqual(copies.stats().copies, []);
});
