import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freshDatabase, type TestDatabase } from '../helpers/services.ts';
import { runCtl, type CtlContext } from '../../switch/ctl.ts';
import { formatSummary, setRosterChangeHandler } from '../../switch/ctl/campaign.ts';
import { campaignHashKey } from '../../switch/campaigns.ts';
import { hashIdentifier } from '../../switch/roster/hashing.ts';
import { lookupCard } from '../../switch/roster/store.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KEY = 'ctl-test-identity-key';
let tdb: TestDatabase;
let dir: string;
const changed: number[][] = [];

test.before(async () => {
  process.env.IDENTITY_KEY = KEY;
  tdb = await freshDatabase();
  dir = await mkdtemp(path.join(os.tmpdir(), 'roster-ctl-'));
  // Stands in for the ledger's handler (which would refresh Redis).
  setRosterChangeHandler(async (_ctx, _campaign, ids) => void changed.push(ids));
});
test.after.always(async () => {
  await tdb?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function ctx(): CtlContext & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { db: tdb.db, out: (l) => lines.push(l), err: (l) => errors.push(l), isTTY: false, lines, errors };
}

async function fails(t: import('ava').ExecutionContext, argv: string[], message: RegExp): Promise<void> {
  const e = await t.throwsAsync(runCtl(argv, ctx()));
  t.regex(e!.message, message);
  t.false(e!.message.includes('\n'), 'one line');
}

async function csv(name: string, lines: string[]): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, lines.join('\n') + '\n');
  return file;
}

test.serial('campaign create makes a draft campaign of NT$6,000 unless told otherwise; campaign list shows it', async (t) => {
  const c = ctx();
  await runCtl(['campaign', 'create', 'CASH2026'], c);
  await runCtl(['campaign', 'create', 'BONUS', '--amount', '10000', '--name', 'Winter bonus'], c);
  t.deepEqual(c.lines, ['campaign CASH2026 created (draft, NT$6,000 per person)', 'campaign BONUS created (draft, NT$10,000 per person)']);
  const l = ctx();
  await runCtl(['campaign', 'list'], l);
  t.deepEqual(l.lines, ['CASH2026\tdraft\tNT$6,000\t0 beneficiaries\tCASH2026', 'BONUS\tdraft\tNT$10,000\t0 beneficiaries\tWinter bonus']);
  const row = await tdb.db('campaigns').where({ code: 'BONUS' }).first();
  t.is(Number(row.amount_minor), 1_000_000);
});

test.serial('campaign create fails with one line: existing code, bad code, bad amount, missing code', async (t) => {
  await fails(t, ['campaign', 'create', 'CASH2026'], /^campaign CASH2026 already exists$/);
  await fails(t, ['campaign', 'create', 'cash'], /^campaign code must be 1 to 16 characters of A-Z 0-9 _ -, got "cash"$/);
  await fails(t, ['campaign', 'create', 'X1', '--amount', '6000.50'], /^--amount must be a whole number of TWD/);
  await fails(t, ['campaign', 'create', 'X1', '--amount', '0'], /^--amount must be a whole number of TWD/);
  await fails(t, ['campaign', 'create', 'X1', '--amount'], /^--amount needs a value$/);
  await fails(t, ['campaign', 'create'], /^usage: campaign create <code>/);
  t.is((await tdb.db('campaigns').where({ code: 'X1' })).length, 0);
});

test.serial('roster import prints the counts and one line per rejected row, and passes the changed ids on', async (t) => {
  const file = await csv('roster.csv', [
    'nhi_card_no,id_no,birth_date,guardian_ids',
    '000012345678,A123456789,1980-05-01,',
    '000012345679,B223456782,2019-02-11,A123456789;F131104093',
    '000012345670,B223456781,2019-02-11,',
    '000012345671,F131104093,2090-01-01,',
  ]);
  const c = ctx();
  await runCtl(['roster', 'import', 'CASH2026', file], c);
  t.deepEqual(c.lines, [
    'accepted 2 (new 2, updated 0, unchanged 0), rejected 2',
    'line 4: id_no check digit is wrong',
    'line 5: birth_date is in the future',
  ]);
  t.deepEqual(c.errors, []);
  t.is(changed.flat().length, 2);
  const key = campaignHashKey(KEY, 'CASH2026');
  t.is((await lookupCard(tdb.db, 'CASH2026', hashIdentifier(key, 'nhi', '000012345679'))).status, 'current');

  const again = ctx();
  await runCtl(['roster', 'import', 'CASH2026', file], again);
  t.is(again.lines[0], 'accepted 2 (new 0, updated 0, unchanged 2), rejected 2');
  t.is(changed.length, 1, 'nothing changed, nothing passed on');

  const l = ctx();
  await runCtl(['campaign', 'list'], l);
  t.is(l.lines[0], 'CASH2026\tdraft\tNT$6,000\t2 beneficiaries\tCASH2026');
});

test.serial('roster import warns on stderr when IDENTITY_KEY is not set', async (t) => {
  const file = await csv('one.csv', ['nhi_card_no,id_no,birth_date,guardian_ids', '000000000001,A123456789,1980-05-01,']);
  delete process.env.IDENTITY_KEY;
  try {
    const c = ctx();
    await runCtl(['roster', 'import', 'BONUS', file], c);
    t.deepEqual(c.errors, ['warning: IDENTITY_KEY is not set: identifiers are hashed under the development key']);
  } finally {
    process.env.IDENTITY_KEY = KEY;
  }
});

test.serial('roster import fails with one line: no such file, no such campaign, a bad header, missing arguments', async (t) => {
  await fails(t, ['roster', 'import', 'CASH2026', path.join(dir, 'missing.csv')], /^cannot read .*missing\.csv: ENOENT$/);
  await fails(t, ['roster', 'import', 'CASH2026', dir], /^cannot read .*: not a file$/);
  const file = await csv('ok.csv', ['nhi_card_no,id_no,birth_date,guardian_ids']);
  await fails(t, ['roster', 'import', 'NOPE', file], /^no campaign "NOPE"$/);
  const bad = await csv('bad.csv', ['nhi,id_no,birth_date,guardian_ids', '000000000001,A123456789,1980-05-01,']);
  await fails(t, ['roster', 'import', 'CASH2026', bad], /^line 1: unknown column "nhi"/);
  await fails(t, ['roster', 'import', 'CASH2026'], /^usage: roster import <campaign> <file\.csv>$/);
});

test('the summary prints at most the cap of rejected rows and counts the rest', (t) => {
  const rejections = [2, 3, 4].map((line) => ({ line, reason: 'nhi_card_no must be 12 digits' }));
  const lines = formatSummary({ importId: 1, campaign: 'C', rows: 9, accepted: 4, new: 4, updated: 0, unchanged: 0, rejected: 5, rejections }, 2);
  t.deepEqual(lines, [
    'accepted 4 (new 4, updated 0, unchanged 0), rejected 5',
    'line 2: nhi_card_no must be 12 digits',
    'line 3: nhi_card_no must be 12 digits',
    '… and 3 more rejected rows',
  ]);
});

test('the ctl process exits non-zero with one line on stderr when an import cannot run', async (t) => {
  const run = promisify(execFile);
  const e = await t.throwsAsync(
    run(path.join(ROOT, 'node_modules/.bin/tsx'), ['switch/ctl.ts', 'roster', 'import', 'NOPE', path.join(dir, 'nothing.csv')], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: tdb.url, IDENTITY_KEY: KEY },
    }),
  );
  const err = e as Error & { code: number; stderr: string; stdout: string };
  t.is(err.code, 1);
  t.is(err.stderr, `error: cannot read ${path.join(dir, 'nothing.csv')}: ENOENT\n`);
  t.is(err.stdout, '');
});
