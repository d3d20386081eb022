import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDatabase, type TestDatabase } from '../helpers/services.ts';
import { runCtl, type CtlContext } from '../../switch/ctl.ts';
import { findActiveBank } from '../../switch/banks.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KEY_HEX = '00112233445566778899aabbccddeeff';
let tdb: TestDatabase;
test.before(async () => {
  tdb = await freshDatabase();
});
test.after.always(async () => {
  await tdb?.drop();
});

function ctx(): CtlContext & { lines: string[] } {
  const lines: string[] = [];
  return { db: tdb.db, out: (l) => lines.push(l), err: (l) => lines.push(l), isTTY: false, lines };
}

test.serial('bank add registers a bank with its MAC key; bank list shows it without ever printing the key', async (t) => {
  const c = ctx();
  await runCtl(['bank', 'add', '004', 'Bank', 'of', 'Taiwan'], c);
  await runCtl(['bank', 'add', '700', 'Chunghwa Post', '--mac-key', KEY_HEX], c);
  await runCtl(['bank', 'list'], c);
  t.deepEqual(c.lines.slice(-2), ['004\tBank of Taiwan\tactive\tno MAC', '700\tChunghwa Post\tactive\tMAC']);
  t.false(c.lines.join('\n').toLowerCase().includes(KEY_HEX));
  const bank = await findActiveBank(tdb.db, '700');
  t.is(bank?.macKey?.toString('hex'), KEY_HEX);
});

test.serial('bank remove makes a bank inactive: its sign-on is refused from then on, its row stays', async (t) => {
  const c = ctx();
  await runCtl(['bank', 'add', '812', 'Taishin'], c);
  await runCtl(['bank', 'remove', '812'], c);
  t.is(await findActiveBank(tdb.db, '812'), null);
  await runCtl(['bank', 'list'], c);
  t.true(c.lines.includes('812\tTaishin\tinactive\tno MAC'));
});

test('bank commands refuse bad input with one line', async (t) => {
  for (const [argv, message] of [
    [['bank', 'add', '04a', 'X'], /bank code must be 1 to 11 digits/],
    [['bank', 'add', '005'], /usage: bank add/],
    [['bank', 'add', '005', 'X', '--mac-key', 'abcd'], /32 hex digits/],
    [['bank', 'add', '005', 'X', '--mac-kee', KEY_HEX], /unknown option --mac-kee/],
    [['bank', 'remove', '999'], /no bank 999/],
    [['bank', 'fly'], /unknown command "bank fly"/],
  ] as const) {
    const e = await t.throwsAsync(runCtl([...argv], ctx()));
    t.regex(e!.message, message);
    t.false(e!.message.includes('\n'));
  }
});

test('the ctl process exits non-zero with one line when the database is unreachable, and never prints a MAC key', async (t) => {
  const run = promisify(execFile);
  const e = await t.throwsAsync(
    run(process.execPath, ['--import', 'tsx', 'switch/ctl.ts', 'bank', 'add', '006', 'X', '--mac-key', KEY_HEX], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' },
    }),
  );
  const stderr = (e as unknown as { stderr: string }).stderr;
  t.is((e as unknown as { code: number }).code, 1);
  t.is(stderr.trim().split('\n').length, 1);
  t.regex(stderr, /^error: /);
  t.false(stderr.includes(KEY_HEX));
});
