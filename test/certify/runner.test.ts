// The certification suite against the real switch (a child process on a fresh database and a private Redis):
// a campaign with a roster made for certification, opened through the ledger, and the bundled scenario files.
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freshDatabase, freshRedis, type TestDatabase, type TestRedis } from '../helpers/services.ts';
import { startSwitch, type SwitchProcess } from '../helpers/switch-process.ts';
import { GOLDEN_MAC_KEY } from '../helpers/golden.ts';
import { addBank } from '../../switch/banks.ts';
import { createCampaign } from '../../switch/campaigns.ts';
import { importRoster } from '../../switch/roster/import.ts';
import { silentLogger } from '../../switch/log.ts';
import { systemClock } from '../../switch/clock.ts';
import { openCampaign } from '../../switch/ledger/opening.ts';
import { buildCertificationRoster, type FixturesFile } from '../../simulators/certify/fixtures.ts';
import { loadScenarios } from '../../simulators/certify/scenario.ts';
import { runCertification, CertificationError, type Report } from '../../simulators/certify/runner.ts';
import { main } from '../../simulators/certify/main.ts';

const IDENTITY_KEY = 'certification-test-identity-key';
const CAMPAIGN = 'CERT1';
const MAC_BANK = '700';
const PLAIN_BANK = '004';

let tdb: TestDatabase;
let tr: TestRedis;
let sw: SwitchProcess;
let dir: string;
let fixtures: FixturesFile;

test.before(async () => {
  tdb = await freshDatabase();
  tr = await freshRedis();
  dir = await mkdtemp(path.join(tmpdir(), 'certify-test-'));
  await addBank(tdb.db, PLAIN_BANK, 'Bank of Taiwan');
  await addBank(tdb.db, MAC_BANK, 'Chunghwa Post', GOLDEN_MAC_KEY);
  const roster = buildCertificationRoster({ seed: 20261203, campaign: CAMPAIGN });
  fixtures = roster.fixtures;
  await createCampaign(tdb.db, { code: CAMPAIGN });
  const once = async function* (s: string) {
    yield s;
  };
  for (const csv of [roster.rosterCsv, roster.updateCsv]) {
    const summary = await importRoster(tdb.db, CAMPAIGN, once(csv), { identityKey: IDENTITY_KEY });
    if (summary.rejected) throw new Error(`roster rows rejected: ${JSON.stringify(summary.rejections)}`);
  }
  await openCampaign({ db: tdb.db, redis: tr.redis, clock: systemClock, logger: silentLogger }, CAMPAIGN);
  sw = await startSwitch({ DATABASE_URL: tdb.url, REDIS_URL: tr.url, IDENTITY_KEY });
});

test.after.always(async () => {
  await sw?.stop();
  await tr?.release();
  await tdb?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const pool = () => JSON.parse(JSON.stringify(fixtures)) as FixturesFile;

function failures(r: Report): string {
  return r.cases
    .filter((c) => c.status !== 'passed')
    .map((c) => `${c.status} ${c.name}: ${c.reason ?? ''}`)
    .join('\n');
}

test.serial('every scenario passes against the switch on a MAC bank, and the reports are written', async (t) => {
  const { parseFixturesJson } = await import('../../simulators/certify/fixtures.ts');
  const report = await runCertification({
    switchHost: '127.0.0.1',
    switchPort: sw.isoPort,
    bankCode: MAC_BANK,
    macKey: GOLDEN_MAC_KEY,
    fixtures: parseFixturesJson(JSON.stringify(pool())),
    reportDir: path.join(dir, 'mac'),
  });
  t.is(failures(report), '');
  t.true(report.passed);
  t.true(report.totals.cases >= 30);
  const json = JSON.parse(await readFile(report.files!.json, 'utf8')) as Report;
  t.is(json.totals.passed, report.totals.passed);
  const html = await readFile(report.files!.html, 'utf8');
  t.true(html.includes('Certified: all'));
  // Not one clear identifier of the fixtures reaches either report.
  for (const p of fixtures.people) {
    for (const v of [p.nhi, p.id, p.guardian_id, p.old_nhi]) {
      if (!v) continue;
      t.false(html.includes(v), 'an identifier in the HTML report');
      t.false(JSON.stringify(json).includes(v), 'an identifier in the JSON report');
    }
  }
});

test.serial('on a bank without a MAC key the MAC scenarios are skipped, and a skipped case is not a pass', async (t) => {
  const report = await runCertification({
    switchHost: '127.0.0.1',
    switchPort: sw.isoPort,
    bankCode: PLAIN_BANK,
    fixtures: null,
    filter: (s) => s.tags.includes('network') || s.tags.includes('mac'),
  });
  const mac = report.cases.filter((c) => c.tags.includes('mac'));
  t.true(mac.length >= 3);
  for (const c of mac) t.is(c.status, 'skipped', c.name);
  for (const c of report.cases.filter((x) => x.tags.includes('network'))) t.is(c.status, 'passed', `${c.name}: ${c.reason}`);
  t.false(report.passed);
});

test.serial('scenarios that need people are skipped with the reason when no fixtures are given', async (t) => {
  const report = await runCertification({
    switchHost: '127.0.0.1',
    switchPort: sw.isoPort,
    bankCode: PLAIN_BANK,
    filter: (s) => s.name === 'withdrawal-approved',
  });
  t.is(report.cases[0]!.status, 'skipped');
  t.regex(report.cases[0]!.reason!, /needs 1 fresh adult .*no --fixtures given/);
});

test.serial('a case fails, naming the field, when the switch answers other than the scenario expects', async (t) => {
  const scenario = loadScenarios().find((s) => s.name === 'network-echo')!;
  // The same messages, but this copy expects 39=05 of the echo: the switch is right, the scenario wrong.
  const wrong = structuredClone(scenario);
  const last = wrong.steps[2]!;
  if (last.kind !== 'send' || last.outcome.kind !== 'response') throw new Error('unexpected scenario shape');
  last.outcome.expect.equals = { 39: '05' };
  const report = await runCertification({ switchHost: '127.0.0.1', switchPort: sw.isoPort, bankCode: PLAIN_BANK, scenarios: [wrong] });
  const c = report.cases[0]!;
  t.is(c.status, 'failed');
  t.regex(c.reason!, /step 3 .*DE39 is "00", expected "05"/);
  t.is(c.steps[0]!.status, 'passed');
  t.false(report.passed);
});

test.serial('refuses to run with one line when the bank is not registered', async (t) => {
  const e = await t.throwsAsync(runCertification({ switchHost: '127.0.0.1', switchPort: sw.isoPort, bankCode: '812' }), { instanceOf: CertificationError });
  t.regex(e!.message, /refused the sign-on of bank 812 with 39=58.*registered/);
});

test.serial('the CLI exits 2 with one line for bad arguments and for a switch that cannot be reached', async (t) => {
  const errors: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => (errors.push(String(s)), true)) as typeof process.stderr.write;
  try {
    t.is(await main(['--switch', 'nowhere']), 2);
    t.is(await main(['--switch', '127.0.0.1:9', '--bank', 'ABC']), 2);
    t.is(await main(['--switch', '127.0.0.1:9', '--mac-key', '123']), 2);
    t.is(await main(['--switch', '127.0.0.1:1']), 2);
  } finally {
    process.stderr.write = write;
  }
  t.is(errors.length, 4);
  for (const e of errors) t.regex(e, /^error: [^\n]+\n$/);
  t.regex(errors[0]!, /--switch must be HOST:PORT/);
  t.regex(errors[1]!, /--bank must be the bank's code/);
  t.regex(errors[2]!, /--mac-key must be 32 hex digits/);
  t.regex(errors[3]!, /cannot reach the switch at 127\.0\.0\.1:1/);
});
