// `npm run certify -- --switch HOST:PORT [--bank CODE] [--mac-key HEX] [--fixtures FILE] [--report DIR] …`
// and `… fixtures --out DIR` (a roster made for certification). Exit 0 only when every case passed; 1 when a case
// failed or was skipped; 2 with a one-line reason on bad arguments, bad files or a switch that cannot be reached.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bankCodeFlag, hostPort, intFlag, macKeyFlag, parseArgs, UsageError } from '../bank/cli-args.ts';
import { CAMPAIGN_CODE } from '../../switch/campaigns.ts';
import { buildCertificationRoster, FixtureError, loadFixturesFile } from './fixtures.ts';
import { loadScenarios, SCENARIOS_DIR, ScenarioError } from './scenario.ts';
import { CertificationError, RUNNER_LIMITS, runCertification, type CaseResult } from './runner.ts';

const USAGE =
  'usage: certify --switch HOST:PORT [--bank CODE] [--mac-key HEX] [--fixtures FILE.json|ROSTER.csv] [--fixtures-update UPDATE.csv]\n' +
  '               [--campaign CODE] [--report DIR] [--scenarios DIR] [--only NAME|TAG,…] [--concurrency N]\n' +
  '       certify fixtures --out DIR [--seed N] [--campaign CODE] [--amount TWD]';

const DEFAULT_BANK = '004';
const DEFAULT_REPORT_DIR = 'certification-report';

function line(c: CaseResult): string {
  const mark = c.status === 'passed' ? 'PASS' : c.status === 'failed' ? 'FAIL' : 'SKIP';
  return `${mark} ${c.name} (${c.durationMs} ms)${c.reason ? `: ${c.reason}` : ''}`;
}

async function certify(args: string[]): Promise<number> {
  const { pos, opts } = parseArgs(args, ['switch', 'bank', 'mac-key', 'fixtures', 'fixtures-update', 'campaign', 'report', 'scenarios', 'only', 'concurrency']);
  if (pos.length) throw new UsageError(`unexpected argument "${pos[0]}"\n${USAGE}`);
  const { host, port } = hostPort(opts.switch, '--switch');
  const bankCode = opts.bank === undefined ? DEFAULT_BANK : bankCodeFlag(opts.bank, '--bank');
  const macKey = macKeyFlag(opts['mac-key']);
  if (opts.campaign !== undefined && !CAMPAIGN_CODE.test(opts.campaign)) throw new UsageError('--campaign must be a campaign code (A-Z 0-9 _ -, up to 16)');
  if (opts['fixtures-update'] !== undefined && opts.fixtures === undefined) throw new UsageError('--fixtures-update needs --fixtures');
  const fixtures = opts.fixtures === undefined ? null : loadFixturesFile(opts.fixtures, opts['fixtures-update'], opts.campaign);
  const concurrency = intFlag(opts, 'concurrency', 1, RUNNER_LIMITS.MAX_CONCURRENCY, RUNNER_LIMITS.DEFAULT_CONCURRENCY);
  const scenarios = loadScenarios(opts.scenarios ?? SCENARIOS_DIR);
  const only = opts.only?.split(',').map((s) => s.trim()).filter(Boolean);
  if (only) {
    const known = new Set(scenarios.flatMap((s) => [s.name, ...s.tags]));
    const unknown = only.filter((o) => !known.has(o));
    if (unknown.length) throw new UsageError(`--only: no scenario or tag named ${unknown.join(', ')}`);
  }
  const report = await runCertification({
    switchHost: host,
    switchPort: port,
    bankCode,
    macKey,
    fixtures,
    reportDir: opts.report ?? DEFAULT_REPORT_DIR,
    scenarios,
    filter: only ? (s) => only.includes(s.name) || s.tags.some((t) => only.includes(t)) : undefined,
    concurrency,
    onCase: (c) => process.stdout.write(line(c) + '\n'),
  });
  const t = report.totals;
  process.stdout.write(
    `${report.passed ? 'CERTIFIED' : 'NOT CERTIFIED'}: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped of ${t.cases} (${report.durationMs} ms)\n` +
      (report.files ? `reports: ${report.files.json}\n         ${report.files.html}\n` : ''),
  );
  return report.passed ? 0 : 1;
}

/** Writes roster.csv (import first), roster-update.csv (import second: replaced cards) and fixtures.json. */
async function fixturesCommand(args: string[]): Promise<number> {
  const { pos, opts } = parseArgs(args, ['out', 'seed', 'campaign', 'amount']);
  if (pos.length) throw new UsageError(`unexpected argument "${pos[0]}"\n${USAGE}`);
  if (!opts.out) throw new UsageError('fixtures: --out DIR is required');
  if (opts.campaign !== undefined && !CAMPAIGN_CODE.test(opts.campaign)) throw new UsageError('--campaign must be a campaign code (A-Z 0-9 _ -, up to 16)');
  const seed = opts.seed === undefined ? undefined : intFlag(opts, 'seed', 1, 2 ** 31 - 1, 1);
  const amountTwd = opts.amount === undefined ? undefined : intFlag(opts, 'amount', 1, 9_999_999_999, 6000);
  const r = buildCertificationRoster({ seed, campaign: opts.campaign, amountTwd });
  await mkdir(opts.out, { recursive: true });
  const files = { roster: path.join(opts.out, 'roster.csv'), update: path.join(opts.out, 'roster-update.csv'), fixtures: path.join(opts.out, 'fixtures.json') };
  await writeFile(files.roster, r.rosterCsv);
  await writeFile(files.update, r.updateCsv);
  await writeFile(files.fixtures, JSON.stringify(r.fixtures, null, 2) + '\n', { mode: 0o600 });
  process.stdout.write(
    `${r.fixtures.people.length} people for certification:\n` +
      `  npm run ctl -- roster import <campaign> ${files.roster}\n` +
      `  npm run ctl -- roster import <campaign> ${files.update}\n` +
      `  npm run ctl -- campaign open <campaign>\n` +
      `  npm run certify -- --switch HOST:PORT --fixtures ${files.fixtures}\n` +
      'The files hold identifiers in clear (synthetic ones): keep them out of shared places.\n',
  );
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  try {
    if (argv[0] === 'fixtures') return await fixturesCommand(argv.slice(1));
    if (argv[0] === '--help' || argv[0] === '-h') {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    return await certify(argv);
  } catch (e) {
    if (e instanceof UsageError || e instanceof CertificationError || e instanceof ScenarioError || e instanceof FixtureError) {
      process.stderr.write(`error: ${e.message.split('\n')[0]}\n`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(await main(process.argv.slice(2)));
