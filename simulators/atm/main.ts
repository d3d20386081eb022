// sim:atm — ATM terminals on the command line. Thin: flags → AtmTerminal / runLoad().
//   (default) withdraw   one withdrawal; missing values are asked for on a terminal
//   inquire              one entitlement inquiry
//   load                 N terminals drawing people from a roster, then the summary and the reconciliation
//   cards                writes a bank card file (synthetic cards) for everyone who may collect in a roster
// The terminals reach either a bank simulator's ATM port (--bank HOST:PORT) or the switch directly, signed on
// as a bank through the bank simulator's own BankHost (--switch HOST:PORT --bank-code CODE).
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { createLogger } from '../../switch/log.ts';
import { CardFile, syntheticCard } from '../bank/cards.ts';
import { bankCodeFlag, hostPort, intFlag, liveLine, macKeyFlag, numberFlag, parseArgs, UsageError } from '../bank/cli-args.ts';
import { startBankSimulator, type BankSimulator } from '../bank/index.ts';
import type { AtmBackend } from '../bank/atm-protocol.ts';
import { BankClient } from './bank-client.ts';
import { formatProgress, formatSummary, LOAD_LIMITS, runLoad } from './load.ts';
import { loadRoster } from './people.ts';
import { ledgerPaidTwd } from './ledger-figure.ts';
import { renderScreen } from './screens.ts';
import { AtmTerminal, OUTCOME_KINDS, type OutcomeKind } from './terminal.ts';

const CONNECT = ['bank', 'switch', 'bank-code', 'mac-key', 'queue', 'connections', 'timeout-ms'];
const USAGE = [
  'usage: sim:atm -- [withdraw] (--bank HOST:PORT | --switch HOST:PORT --bank-code CODE [--mac-key HEX] [--queue FILE])',
  '         [--card N --pin N] --nhi N --id ID --amount TWD [--terminal ID] [--outcome full|none|partial|cancel|timeout] [--partial TWD] [--campaign CODE] [--lang zh|en|both]',
  '       sim:atm -- inquire (--bank … | --switch …) [--card N --pin N] --nhi N --id ID [--terminal ID]',
  '       sim:atm -- load (--bank HOST:PORT --cards FILE | --switch HOST:PORT --bank-code CODE) --roster FILE --terminals N --duration-s S',
  '         [--rate PER_S] [--max-attempts N] [--seed N] [--outcomes full=90,none=3,partial=3,cancel=2,timeout=2] [--amount TWD] [--campaign CODE]',
  '         [--admin HOST:PORT --campaign CODE --bank-code CODE]   reconcile against the ledger through the ops API',
  '       sim:atm -- cards --roster FILE --bank-code CODE --out FILE',
].join('\n');

const out = (l: string) => process.stdout.write(l + '\n');

interface Backend {
  backendFor(i: number): AtmBackend;
  /** Directly to the switch: the in-process bank, so the run can wait for its advice queue. */
  bank: BankSimulator | null;
  close(): Promise<void>;
}

async function connect(opts: Record<string, string>, terminals: number): Promise<Backend> {
  const timeout_ms = intFlag(opts, 'timeout-ms', 100, 300_000, 35_000);
  if (opts.bank && opts.switch) throw new UsageError('give --bank or --switch, not both');
  if (opts.bank) {
    const { host, port } = hostPort(opts.bank, '--bank');
    const clients = Array.from({ length: terminals }, () => new BankClient({ host, port, response_timeout_ms: timeout_ms }));
    return { backendFor: (i) => clients[i]!, bank: null, close: async () => clients.forEach((c) => c.close()) };
  }
  if (!opts.switch) throw new UsageError('--bank HOST:PORT or --switch HOST:PORT is required');
  const sw = hostPort(opts.switch, '--switch');
  const bankCode = bankCodeFlag(opts['bank-code'], '--bank-code');
  const bank = await startBankSimulator({
    switchHost: sw.host,
    switchPort: sw.port,
    bankCode,
    macKey: macKeyFlag(opts['mac-key']),
    queueFile: opts.queue ?? `.data/sim-atm-direct-${bankCode}.queue.jsonl`,
    connections: intFlag(opts, 'connections', 1, 32, Math.min(4, terminals)),
    reconnect_max_attempts: 3,
    logger: createLogger({ component: 'sim-atm', bank: bankCode }, (process.env.LOG_LEVEL as 'info') || 'error'),
  });
  try {
    await bank.host.ready(5_000);
  } catch {
    await bank.stop(0);
    throw new Error(`could not sign on at the switch ${sw.host}:${sw.port} as bank ${bankCode}`);
  }
  return { backendFor: () => bank.gateway, bank, close: () => bank.stop(10_000) };
}

async function ask(opts: Record<string, string>, fields: Array<[flag: string, prompt: string]>): Promise<void> {
  const missing = fields.filter(([f]) => opts[f] === undefined);
  if (missing.length === 0) return;
  if (!process.stdin.isTTY) throw new UsageError(`--${missing[0]![0]} is required`);
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    for (const [flag, prompt] of missing) opts[flag] = (await rl.question(`${prompt}: `)).trim();
  } finally {
    rl.close();
  }
}

function outcomeFlag(v: string | undefined): OutcomeKind {
  if (v === undefined) return 'full';
  if (!(OUTCOME_KINDS as readonly string[]).includes(v)) throw new UsageError(`--outcome must be one of ${OUTCOME_KINDS.join(', ')}, got "${v}"`);
  return v as OutcomeKind;
}

function outcomeWeights(v: string | undefined): Partial<Record<OutcomeKind, number>> | undefined {
  if (v === undefined) return undefined;
  const w: Partial<Record<OutcomeKind, number>> = {};
  for (const part of v.split(',')) {
    const [k, n] = part.split('=');
    if (!k || !(OUTCOME_KINDS as readonly string[]).includes(k) || !n || !/^\d+(\.\d+)?$/.test(n)) {
      throw new UsageError(`--outcomes must be like full=90,none=3,partial=3,cancel=2,timeout=2; bad part "${part}"`);
    }
    w[k as OutcomeKind] = Number(n);
  }
  if (Object.values(w).every((n) => n === 0)) throw new UsageError('--outcomes must give some outcome a weight above 0');
  return w;
}

async function single(kind: 'withdraw' | 'inquire', opts: Record<string, string>): Promise<number> {
  const viaBank = opts.bank !== undefined;
  if (!viaBank && opts.switch === undefined) throw new UsageError('--bank HOST:PORT or --switch HOST:PORT is required');
  if (!viaBank) bankCodeFlag(opts['bank-code'], '--bank-code');
  await ask(opts, [
    ...(viaBank ? ([['card', 'card number'], ['pin', 'PIN']] as Array<[string, string]>) : []),
    ['nhi', "beneficiary's NHI card number"],
    ['id', 'your ID number'],
    ...(kind === 'withdraw' ? ([['amount', 'amount (TWD)']] as Array<[string, string]>) : []),
  ]);
  const lang = (opts.lang ?? 'both') as 'zh' | 'en' | 'both';
  if (!['zh', 'en', 'both'].includes(lang)) throw new UsageError('--lang must be zh, en or both');
  const amountTwd = kind === 'withdraw' ? intFlag(opts, 'amount', 1, 10_000_000, 0) : 0;
  const outcome = outcomeFlag(opts.outcome);
  const backend = await connect(opts, 1);
  try {
    const terminal = new AtmTerminal({ terminalId: opts.terminal ?? 'ATM00001', backend: backend.backendFor(0), response_timeout_ms: intFlag(opts, 'timeout-ms', 100, 300_000, 35_000) });
    const customer = {
      ...(opts.card !== undefined ? { card: opts.card } : {}),
      ...(opts.pin !== undefined ? { pin: opts.pin } : {}),
      nhi: opts.nhi!,
      claimantId: opts.id!,
      ...(opts.campaign ? { campaign: opts.campaign } : {}),
    };
    const r =
      kind === 'inquire'
        ? await terminal.inquire(customer)
        : await terminal.withdraw(customer, { amountTwd, outcome, ...(opts.partial ? { partialTwd: intFlag(opts, 'partial', 1, amountTwd - 1, 0) } : {}) });
    out(renderScreen(r.screen, lang));
    out(`39=${r.rc}${r.reason ? ` ${r.reason}` : ''} | dispensed NT$${r.dispensedTwd.toLocaleString('en-US')}${r.latencyMs !== null ? ` | ${r.latencyMs.toFixed(1)} ms` : ''}`);
    if (backend.bank && !(await backend.bank.host.drainQueue(10_000))) out(`advice still queued (${backend.bank.host.queueDepth()}): it is sent on the next run`);
    return 0;
  } finally {
    await backend.close();
  }
}

async function load(opts: Record<string, string>): Promise<number> {
  if (!opts.roster) throw new UsageError('--roster FILE is required');
  const terminals = intFlag(opts, 'terminals', 1, LOAD_LIMITS.MAX_TERMINALS, 1);
  const duration_s = numberFlag(opts, 'duration-s', 0.001, LOAD_LIMITS.MAX_DURATION_S);
  if (duration_s === undefined) throw new UsageError('--duration-s S is required');
  const { people, skipped } = loadRoster(opts.roster);
  if (skipped.length) process.stderr.write(`roster: ${skipped.length} row(s) skipped, first: ${skipped[0]}\n`);
  let cardFor: ((id: string) => { card: string; pin: string } | null) | undefined;
  if (opts.bank) {
    if (!opts.cards) throw new UsageError('--cards FILE is required with --bank (the claimants’ bank cards; `sim:atm -- cards` writes one)');
    const byHolder = new Map<string, { card: string; pin: string }>();
    for (const c of CardFile.load(opts.cards).toJSON()) if (!byHolder.has(c.holder_id)) byHolder.set(c.holder_id, { card: c.card, pin: c.pin });
    cardFor = (id) => byHolder.get(id) ?? null;
  }
  let ledger: { admin: string; campaign: string; bank: string } | null = null;
  if (opts.admin) {
    if (!opts.campaign || !opts['bank-code']) throw new UsageError('--admin needs --campaign CODE and --bank-code CODE (whose paid total to reconcile)');
    const { host, port } = hostPort(opts.admin, '--admin');
    ledger = { admin: `http://${host}:${port}`, campaign: opts.campaign, bank: bankCodeFlag(opts['bank-code'], '--bank-code') };
  }
  const weights = outcomeWeights(opts.outcomes);
  const rate = numberFlag(opts, 'rate', 0.001, LOAD_LIMITS.MAX_RATE_PER_S);
  const backend = await connect(opts, terminals);
  const line = liveLine(process.stderr);
  try {
    const summary = await runLoad({
      terminals,
      backendFor: backend.backendFor,
      people,
      ...(cardFor ? { cardFor } : {}),
      rate_per_s: rate ?? null,
      duration_s,
      max_attempts: intFlag(opts, 'max-attempts', 1, LOAD_LIMITS.MAX_ATTEMPTS, LOAD_LIMITS.MAX_ATTEMPTS),
      seed: intFlag(opts, 'seed', 0, 2 ** 32 - 1, 1),
      ...(weights ? { outcomes: weights } : {}),
      default_amount_twd: intFlag(opts, 'amount', 1, 10_000_000, 6_000),
      ...(opts.campaign ? { campaign: opts.campaign } : {}),
      response_timeout_ms: intFlag(opts, 'timeout-ms', 100, 300_000, 35_000),
      onProgress: (p) => line.show(formatProgress(p)),
      ...(backend.bank ? { settle: async () => void (await backend.bank!.host.drainQueue(10_000)) } : {}),
      // With --admin, the switch's ops API gives the ledger's figure for this bank and campaign.
      ledgerPaidTwd: async () => (ledger ? ledgerPaidTwd(ledger.admin, ledger.campaign, ledger.bank) : null),
    });
    line.done();
    for (const l of formatSummary(summary)) out(l);
    return summary.reconciliation.status === 'differs' ? 4 : 0;
  } finally {
    line.done();
    await backend.close();
  }
}

function cards(opts: Record<string, string>): number {
  if (!opts.roster) throw new UsageError('--roster FILE is required');
  if (!opts.out) throw new UsageError('--out FILE is required');
  const bankCode = bankCodeFlag(opts['bank-code'], '--bank-code');
  const { people } = loadRoster(opts.roster);
  const file = new CardFile();
  const holders = new Set<string>();
  for (const p of people) for (const id of [p.id, ...p.guardians]) holders.add(id);
  for (const id of holders) file.add(syntheticCard(bankCode, id));
  writeFileSync(opts.out, JSON.stringify(file.toJSON(), null, 1) + '\n', { mode: 0o600 });
  out(`${file.size} card(s) for bank ${bankCode} written to ${opts.out}`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const sub = argv[0] && !argv[0].startsWith('--') ? argv[0] : 'withdraw';
    const rest = argv[0] === sub ? argv.slice(1) : argv;
    const known: Record<string, string[]> = {
      withdraw: [...CONNECT, 'card', 'pin', 'nhi', 'id', 'amount', 'terminal', 'outcome', 'partial', 'campaign', 'lang'],
      inquire: [...CONNECT, 'card', 'pin', 'nhi', 'id', 'terminal', 'campaign', 'lang'],
      load: [...CONNECT, 'cards', 'roster', 'terminals', 'rate', 'duration-s', 'max-attempts', 'seed', 'outcomes', 'amount', 'campaign', 'admin'],
      cards: ['roster', 'bank-code', 'out'],
    };
    if (!known[sub]) throw new UsageError(`unknown command "${sub}"\n${USAGE}`);
    const { pos, opts } = parseArgs(rest, known[sub]!);
    if (pos.length) throw new UsageError(`unexpected argument "${pos[0]}"`);
    if (sub === 'cards') return cards(opts);
    if (sub === 'load') return await load(opts);
    return await single(sub as 'withdraw' | 'inquire', opts);
  } catch (e) {
    process.stderr.write(`sim:atm: ${(e as Error).message.split('\n')[0]}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(await main(process.argv.slice(2)));
