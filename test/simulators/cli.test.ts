// The simulator CLIs end to end as processes: one-line failures, a bank on the scripted switch with an ATM
// withdrawing through it, drain and sign-off on SIGTERM, a card file from a roster, a tiny load run.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ScriptedSwitch } from './helpers/scripted-switch.ts';
import { tempDir } from './helpers/fixtures.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const tmp = await tempDir();
const cleanups: Array<() => Promise<unknown> | void> = [];
test.after.always(async () => {
  for (const c of cleanups.reverse()) await c();
  await tmp.remove();
});

function run(script: string, args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }>; stdout(): string } {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, script), ...args], { cwd: tmp.dir, env: { ...process.env, LOG_LEVEL: 'error' } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  cleanups.push(() => void child.kill('SIGKILL'));
  return { child, done, stdout: () => stdout };
}

async function until(cond: () => boolean, timeout_ms = 10_000): Promise<void> {
  const end = Date.now() + timeout_ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('sim:bank and sim:atm fail with one line naming the problem and a non-zero exit', async (t) => {
  const a = await run('simulators/bank/main.ts', ['--bank', '004']).done;
  t.is(a.code, 2);
  t.is(a.stderr, 'sim:bank: --switch HOST:PORT is required\n');
  const b = await run('simulators/bank/main.ts', ['--switch', '127.0.0.1:1', '--bank', '004', '--mac-key', 'xyz']).done;
  t.is(b.stderr, 'sim:bank: --mac-key must be 32 hex digits (an AES-128 key)\n');
  const c = await run('simulators/atm/main.ts', ['load', '--switch', '127.0.0.1:1', '--bank-code', '004', '--roster', 'missing.csv', '--duration-s', '1']).done;
  t.is(c.code, 1);
  t.is(c.stderr, 'sim:atm: cannot read roster missing.csv: ENOENT\n');
  const d = await run('simulators/atm/main.ts', ['withdraw', '--switch', '127.0.0.1:1', '--nhi', '1', '--id', 'A', '--amount', '6000']).done;
  t.is(d.code, 2);
  t.is(d.stderr, 'sim:atm: --bank-code CODE is required\n');
});

test('a bank on the command line serves an ATM withdrawal, then drains and signs off on SIGTERM', async (t) => {
  const sw = await ScriptedSwitch.start();
  cleanups.push(() => sw.close());
  await writeFile(join(tmp.dir, 'cards.csv'), 'card,pin,holder_id\n4000123412341234,1234,A123456789\n');
  const bank = run('simulators/bank/main.ts', ['--switch', `127.0.0.1:${sw.port}`, '--bank', '004', '--listen', '0', '--cards', 'cards.csv', '--queue', 'q.jsonl']);
  await until(() => /ATMs on port \d+/.test(bank.stdout()) || bank.child.exitCode !== null);
  const atmPort = /ATMs on port (\d+)/.exec(bank.stdout())![1]!;
  t.regex(bank.stdout(), /^sim-bank ready: bank 004, 1 of 1 connection\(s\) signed on/);

  const atm = await run('simulators/atm/main.ts', [
    '--bank', `127.0.0.1:${atmPort}`, '--card', '4000123412341234', '--pin', '1234', '--nhi', '000012345678', '--id', 'A123456789', '--amount', '6000', '--lang', 'en',
  ]).done;
  t.is(atm.code, 0, atm.stderr);
  t.regex(atm.stdout, /^Please take your cash: NT\$6,000\.\n39=00 \| dispensed NT\$6,000/);
  const wrongPin = await run('simulators/atm/main.ts', [
    '--bank', `127.0.0.1:${atmPort}`, '--card', '4000123412341234', '--pin', '9999', '--nhi', '000012345678', '--id', 'A123456789', '--amount', '6000',
  ]).done;
  t.regex(wrongPin.stdout, /^密碼錯誤\nIncorrect PIN\.\n39=55 WRONG_PIN/);

  await sw.waitFor((m) => m.mti === '0220');
  bank.child.kill('SIGTERM');
  const end = await bank.done;
  t.is(end.code, 0, end.stderr);
  t.regex(end.stdout, /SIGTERM: draining/);
  t.regex(end.stdout, /queue 0 /);
  await sw.waitFor((m) => m.mti === '0800' && m.fields[70] === '002');
  t.is(sw.of('0200').length, 1);
});

test('sim:atm cards writes a card for everyone who may collect; load runs straight to the switch and prints the summary', async (t) => {
  const sw = await ScriptedSwitch.start();
  cleanups.push(() => sw.close());
  await writeFile(
    join(tmp.dir, 'roster.csv'),
    'nhi_card_no,id_no,birth_date,guardian_ids\n000012345678,A123456789,1980-05-01,\n000012345679,B223456782,2022-02-11,A123456789;F131104093\n000012345680,F131104093,1975-03-03,\n',
  );
  const cards = await run('simulators/atm/main.ts', ['cards', '--roster', 'roster.csv', '--bank-code', '004', '--out', 'cards.json']).done;
  t.is(cards.code, 0, cards.stderr);
  t.is(cards.stdout, '3 card(s) for bank 004 written to cards.json\n');
  const file = JSON.parse(await readFile(join(tmp.dir, 'cards.json'), 'utf8')) as Array<{ holder_id: string }>;
  t.deepEqual(file.map((c) => c.holder_id).sort(), ['A123456789', 'B223456782', 'F131104093']);

  const load = await run('simulators/atm/main.ts', [
    'load', '--switch', `127.0.0.1:${sw.port}`, '--bank-code', '004', '--queue', 'direct.jsonl', '--roster', 'roster.csv', '--terminals', '2', '--duration-s', '10', '--max-attempts', '3', '--seed', '5',
  ]).done;
  t.is(load.code, 0, load.stderr);
  const lines = load.stdout.trim().split('\n');
  t.regex(lines[0]!, /^attempts 3 in /);
  t.is(lines[1], 'response codes: 00=3');
  t.is(lines[5], 'cash dispensed NT$18,000');
  t.is(lines[6], 'reconciliation: ATMs dispensed NT$18,000; ledger paid total not available');
  t.is(sw.of('0220').length, 3);
  const claimants = sw.of('0200').map((m) => m.fields[48]!.slice(-10)).sort();
  t.deepEqual(claimants, ['A123456789', 'A123456789', 'F131104093']);
});
