// `npm run demo`: the whole thing on local PostgreSQL and Redis, start to finish.
//   1. a fresh demo database and Redis DB, migrations, two banks (004 plain, 700 with a MAC key);
//   2. campaign DEMO: a roster made for certification plus a synthetic roster (valid IDs, children with guardians);
//   3. the switch (a process of its own), certification against it as bank 700, then ATMs withdrawing through a
//      bank simulator for bank 004, with a mix of full, partial and failed dispenses;
//   4. the summary, ending in the reconciliation of cash dispensed against the ledger. Exit 0 only if all is well.
// Options: --people N (load roster, default 2,000) --terminals N (default 16) --duration-s S (default 8) --keep (leave it running)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { checkServices } from '../test/helpers/services.ts';
import { createDb, migrate } from '../switch/db.ts';
import { addBank } from '../switch/banks.ts';
import { createCampaign } from '../switch/campaigns.ts';
import { importRoster } from '../switch/roster/import.ts';
import { syntheticRoster } from '../switch/roster/synthetic.ts';
import { openCampaign } from '../switch/ledger/opening.ts';
import { createRedis } from '../switch/redis.ts';
import { systemClock } from '../switch/clock.ts';
import { createLogger } from '../switch/log.ts';
import { startSwitch, type SwitchProcess } from '../simulators/lib/switch-process.ts';
import { buildCertificationRoster, parseFixturesJson } from '../simulators/certify/fixtures.ts';
import { runCertification } from '../simulators/certify/runner.ts';
import { startBankSimulator, CardFile, syntheticCard, type BankSimulator } from '../simulators/bank/index.ts';
import { BankClient, runLoad, formatSummary, parseRoster, formatProgress } from '../simulators/atm/index.ts';
import { ledgerPaidTwd } from '../simulators/atm/ledger-figure.ts';

const DEMO_DATABASE_URL = process.env.DEMO_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/entitlement_demo';
const DEMO_REDIS_URL = process.env.DEMO_REDIS_URL || 'redis://127.0.0.1:6379/9';
const IDENTITY_KEY = process.env.IDENTITY_KEY || 'demo-identity-key-not-for-production';
const CAMPAIGN = 'DEMO';
const PLAIN_BANK = '004';
const MAC_BANK = '700';

function flag(name: string, fallback: number, max: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`--${name} must be a whole number from 1 to ${max}`);
  return v;
}

const say = (line: string) => process.stdout.write(line + '\n');
const step = (line: string) => say(`\n== ${line}`);

async function freshDemoDatabase(): Promise<void> {
  const url = new URL(DEMO_DATABASE_URL);
  const name = url.pathname.slice(1);
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`demo database name "${name}" must be letters, digits and _`);
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
}

async function* once(text: string): AsyncGenerator<string> {
  yield text;
}

async function main(): Promise<number> {
  const people = flag('people', 2_000, 1_000_000);
  const terminals = flag('terminals', 16, 256);
  const durationS = flag('duration-s', 8, 3_600);
  await checkServices();

  step('setting up: database, banks, campaign, roster');
  await freshDemoDatabase();
  const redisControl = createRedis(DEMO_REDIS_URL, { commandTimeout: 60_000, enableOfflineQueue: true });
  await redisControl.flushdb();
  const db = createDb(DEMO_DATABASE_URL);
  const work = await mkdtemp(path.join(tmpdir(), 'entitlement-demo-'));
  const macKey = randomBytes(16);
  let sw: SwitchProcess | null = null;
  let bank: BankSimulator | null = null;
  const clients: BankClient[] = [];
  try {
    say(`migrations: ${(await migrate(db)).length} applied to ${new URL(DEMO_DATABASE_URL).pathname.slice(1)}`);
    await addBank(db, PLAIN_BANK, 'Bank of Taiwan (demo)');
    await addBank(db, MAC_BANK, 'Chunghwa Post (demo, MAC)', macKey);
    say(`banks: ${PLAIN_BANK} without MAC, ${MAC_BANK} with an AES-128 MAC key`);
    await createCampaign(db, { code: CAMPAIGN, name: 'Demo cash entitlement' });

    const cert = buildCertificationRoster({ campaign: CAMPAIGN });
    const load = syntheticRoster({ seed: Date.now() % 1_000_000, count: people });
    let loadCsv = '';
    for (const chunk of load.csv()) loadCsv += chunk;
    for (const [label, csv] of [['certification roster', cert.rosterCsv], ['certification card replacements', cert.updateCsv], ['synthetic roster', loadCsv]] as const) {
      const s = await importRoster(db, CAMPAIGN, once(csv), { identityKey: IDENTITY_KEY });
      say(`${label}: accepted ${s.accepted} (new ${s.new}, updated ${s.updated}, unchanged ${s.unchanged}), rejected ${s.rejected}`);
    }
    const opened = await openCampaign({ db, redis: redisControl, clock: systemClock, logger: createLogger({ svc: 'demo' }, 'warn') }, CAMPAIGN);
    say(`campaign ${CAMPAIGN} open: ${opened.entitlements} entitlements loaded into Redis`);

    step('starting the switch');
    sw = await startSwitch({ DATABASE_URL: DEMO_DATABASE_URL, REDIS_URL: DEMO_REDIS_URL, IDENTITY_KEY }, 30_000);
    say(`switch: ISO 8583 on 127.0.0.1:${sw.isoPort}, ops API on http://127.0.0.1:${sw.adminPort}`);

    step(`certification as bank ${MAC_BANK} (MACed)`);
    const report = await runCertification({
      switchHost: '127.0.0.1',
      switchPort: sw.isoPort,
      bankCode: MAC_BANK,
      macKey,
      fixtures: parseFixturesJson(JSON.stringify(cert.fixtures)),
      reportDir: path.resolve('reports', `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`),
    });
    for (const c of report.cases) if (c.status !== 'passed') say(`  ${c.status}: ${c.name}: ${c.reason ?? ''}`);
    say(`certification: ${report.totals.passed} of ${report.totals.cases} cases passed; reports: ${report.files?.html ?? 'not written'}`);

    step(`ATMs: ${terminals} terminals for ${durationS} s through the bank simulator of bank ${PLAIN_BANK}`);
    const roster = parseRoster(loadCsv, 'synthetic roster');
    const cards = new CardFile();
    const byHolder = new Map<string, { card: string; pin: string }>();
    for (const p of roster.people) {
      for (const id of [p.id, ...p.guardians]) {
        if (byHolder.has(id)) continue;
        const c = syntheticCard(PLAIN_BANK, id);
        cards.add(c);
        byHolder.set(id, { card: c.card, pin: c.pin });
      }
    }
    bank = await startBankSimulator({
      switchHost: '127.0.0.1',
      switchPort: sw.isoPort,
      bankCode: PLAIN_BANK,
      queueFile: path.join(work, 'bank-004.queue.jsonl'),
      connections: 4,
      cards,
      listen_port: 0,
      logger: createLogger({ component: 'sim-bank' }, 'error'),
    });
    await bank.host.ready(10_000);
    for (let i = 0; i < terminals; i++) clients.push(new BankClient({ host: '127.0.0.1', port: bank.atmPort! }));
    const adminUrl = `http://127.0.0.1:${sw.adminPort}/v1/campaigns/${CAMPAIGN}/settlement`;
    const live = process.stderr.isTTY;
    const summary = await runLoad({
      terminals,
      backendFor: (i) => clients[i]!,
      people: roster.people,
      cardFor: (id) => byHolder.get(id) ?? null,
      duration_s: durationS,
      outcomes: { full: 85, partial: 5, none: 4, cancel: 3, timeout: 3 },
      campaign: CAMPAIGN,
      onProgress: (p) => live && process.stderr.write(`\r${formatProgress(p)}   `),
      settle: async () => void (await bank!.host.drainQueue(15_000)),
      // Only bank 004's ATMs are in this load: its paid figure is the one to reconcile against.
      ledgerPaidTwd: () => ledgerPaidTwd(`http://127.0.0.1:${sw!.adminPort}`, CAMPAIGN, PLAIN_BANK),
    });
    if (live) process.stderr.write('\n');
    for (const l of formatSummary(summary)) say(`  ${l}`);

    step('settlement per bank (ops API)');
    const figures = (await (await fetch(adminUrl)).json()) as { banks: Array<Record<string, number | string>> };
    for (const b of figures.banks) {
      say(`  bank ${b.bank}: ${b.approvals} approvals, ${b.paid_count} paid, ${b.reversed_count} reversed, ${b.reserved_count} reserved; paid NT$${(Number(b.paid_minor) / 100).toLocaleString('en-US')}`);
    }

    const ok = report.passed && summary.reconciliation.status === 'equal';
    step(ok ? 'demo passed: certification green, cash dispensed equals the ledger' : 'demo FAILED: see above');
    if (process.argv.includes('--keep')) {
      say(`still running (--keep): switch on 127.0.0.1:${sw.isoPort}, bank simulator ATMs on 127.0.0.1:${bank.atmPort}; Ctrl-C stops`);
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    return ok ? 0 : 1;
  } finally {
    for (const c of clients) c.close();
    await bank?.stop(5_000);
    await sw?.stop('SIGTERM');
    redisControl.disconnect();
    await db.destroy();
    await rm(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`demo: ${(e as Error).message.split('\n')[0]}\n`);
    process.exit(1);
  },
);
