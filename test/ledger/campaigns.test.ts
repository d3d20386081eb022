// `ctl campaign open|close` (operations.md) as the ledger sees them: open loads Redis and then opens; close stops
// withdrawals at once on every running instance; an import into an open campaign takes effect at once.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { IsoMessage } from '../../switch/iso8583/message.ts';
import { runCtl, type CtlContext } from '../../switch/ctl.ts';
import { epochKey } from '../../switch/ledger/reservations.ts';
import { Fixture, IDENTITY_KEY, adult, send, withdrawal, confirmation } from './fixture.ts';

const rc = (res: IsoMessage) => (res.fields[44] ? `${res.fields[39]} ${res.fields[44]}` : res.fields[39]!);

function ctl(f: Fixture): CtlContext & { lines: string[] } {
  const lines: string[] = [];
  return { db: f.db, out: (l) => lines.push(l), err: (l) => lines.push(l), isTTY: false, lines };
}

let f: Fixture;
test.before(async () => {
  f = await Fixture.create();
  process.env.REDIS_URL = f.tredis.url;
  process.env.IDENTITY_KEY = IDENTITY_KEY;
});
test.after.always(async () => {
  await f?.destroy();
});

test.serial('a withdrawal before `campaign open` gets 12; `campaign open` loads every entitlement into Redis, then withdrawals are approved', async (t) => {
  const people = [adult(), adult(), adult()];
  await f.campaign('C1', people, { open: false });
  const ledger = await f.ledger();
  t.is(rc(await send(ledger, withdrawal({ person: people[0]! }))), '12 CAMPAIGN_CLOSED');
  const c = ctl(f);
  await runCtl(['campaign', 'open', 'C1'], c);
  t.regex(c.lines.join('\n'), /campaign C1 open: 3 entitlement\(s\) loaded into Redis/);
  t.truthy(await f.redis.get(epochKey('C1')));
  const fields = (await Promise.all((await f.redis.keys('e:{C1:*}')).map((k) => f.redis.hlen(k)))).reduce((a, b) => a + b, 0);
  t.is(fields, 3 + (await f.redis.keys('e:{C1:*}')).length, 'one field per entitlement, plus each bucket’s epoch');
  t.is((await f.db('campaigns').where({ code: 'C1' }).first()).state, 'open');
  t.is(await f.count('payouts'), 3, 'one payout row per entitlement');
  t.is(rc(await send(ledger, withdrawal({ person: people[1]! }))), '00');
});

test.serial('`campaign open` refuses a campaign that is open, a second campaign while one is open, and an unknown one, each in one line', async (t) => {
  await f.db('campaigns').insert({ code: 'C2', name: 'C2', amount_minor: 600_000 });
  await t.throwsAsync(runCtl(['campaign', 'open', 'C1'], ctl(f)), { message: 'campaign C1 is already open' });
  await t.throwsAsync(runCtl(['campaign', 'open', 'C2'], ctl(f)), { message: /campaign C1 is open: close it first/ });
  await t.throwsAsync(runCtl(['campaign', 'open', 'NOPE'], ctl(f)), { message: /no campaign "NOPE"/ });
  await t.throwsAsync(runCtl(['campaign', 'close', 'C2'], ctl(f)), { message: /campaign C2 is not open/ });
  await t.throwsAsync(runCtl(['campaign', 'open'], ctl(f)), { message: /usage: campaign open <code>/ });
});

test.serial('`campaign close` stops withdrawals at once on every running instance, without waiting for any notice', async (t) => {
  const p = adult();
  const q = adult();
  await f.addPeople('C1', [p, q]);
  const [one, two] = [f.ledgers[0]!, await f.ledger()];
  const w = withdrawal({ person: p });
  t.is(rc(await send(two, w)), '00');
  await runCtl(['campaign', 'close', 'C1'], ctl(f));
  t.is(rc(await send(one, withdrawal({ person: q }))), '12 CAMPAIGN_CLOSED');
  t.is(rc(await send(two, withdrawal({ person: q, terminal: 'ATM00002' }))), '12 CAMPAIGN_CLOSED');
  t.is(rc(await send(one, confirmation(w))), '00', 'advices are still recorded');
  t.is(await f.db('withdrawals').count<{ n: string }[]>('* as n').then((r) => Number(r[0]!.n)), 2);
});

test.serial('a roster import into an open campaign takes effect at once: a running instance approves the new person', async (t) => {
  await runCtl(['campaign', 'open', 'C1'], ctl(f));
  const ledger = f.ledgers[0]!;
  await ledger.check();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ledger-roster-'));
  try {
    const file = path.join(dir, 'late.csv');
    // A newborn (guardian collects) and an adult, with valid check digits.
    await writeFile(file, 'nhi_card_no,id_no,birth_date,guardian_ids\n000077700001,A123456789,1980-05-01,\n000077700002,F131104093,2026-10-01,A123456789\n');
    const c = ctl(f);
    await runCtl(['roster', 'import', 'C1', file], c);
    t.regex(c.lines.join('\n'), /accepted 2/);
    t.is(await f.count('payouts'), 7, 'payout rows for the new people exist at once');
    t.is(rc(await send(ledger, withdrawal({ person: { nhi: '000077700001', id: 'A123456789' } }))), '00');
    t.is(rc(await send(ledger, withdrawal({ person: { nhi: '000077700002', id: 'F131104093' }, claimant: 'A123456789' }))), '00');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
