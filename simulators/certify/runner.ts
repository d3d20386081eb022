// The certification runner: runs scenario files (scenario.ts) against a switch, one case at a time or a few at once,
// each with fresh people from the fixtures and a timeout, and returns a Report (report.ts writes it out).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../../switch/log.ts';
import { responseMti } from '../../switch/handlers/respond.ts';
import { decode, describe, describeBytes, encode, signMessage, MAC_PRIMARY_FIELD, MAC_SECONDARY_FIELD, type IsoMessage } from '../../switch/iso8583/index.ts';
import { BankHost } from '../bank/host.ts';
import type { DispenseOutcome } from '../bank/atm-protocol.ts';
import { StanGenerator } from '../bank/stan.ts';
import { terminalIdField } from '../bank/fields.ts';
import { bases, loadScenarios, SCENARIOS_DIR, type Expectation, type MessageStep, type Scenario, type Step } from './scenario.ts';
import { renderTemplate, TemplateError, type RenderContext } from './template.ts';
import { FixturePool, KIND_MEANING, randomIdentity, type FixturePerson, type FixtureProvider, type PersonKind } from './fixtures.ts';
import { Wire, type Received, type TranscriptLine } from './wire.ts';
import { writeReports } from './report.ts';

export const RUNNER_LIMITS = {
  MAX_CONCURRENCY: 8,
  DEFAULT_CONCURRENCY: 4,
  CONNECT_TIMEOUT_MS: 5_000,
  /** Transcript lines kept per case; the rest are counted. */
  MAX_TRANSCRIPT_LINES: 500,
} as const;

/** DE32 for "not the signed-on bank" and for a sign-on by a bank that does not participate. */
export const DEFAULT_OTHER_BANK = '99999999999';
/** DE48 CP naming a campaign that is not open (unknown): 12 CAMPAIGN_CLOSED. */
export const DEFAULT_CLOSED_CAMPAIGN = 'CERT-NOT-OPEN';

/** What the response of each MTI must echo from its request unless a step says otherwise (partner-interface §4). */
export const DEFAULT_ECHO: Record<string, readonly number[]> = {
  '0810': [7, 11, 70],
  '0210': [3, 4, 7, 11, 12, 13, 32, 37, 41, 49],
  '0230': [3, 4, 7, 11, 12, 13, 32, 37, 41, 49, 90],
  '0430': [3, 4, 7, 11, 12, 13, 32, 37, 41, 49, 90],
};

export interface CertificationOptions {
  switchHost: string;
  switchPort: number;
  bankCode: string;
  /** The bank's AES-128 MAC key, when it has one: every message is MACed and the MAC scenarios run. */
  macKey?: Buffer | null;
  /** The people scenarios need; without, the scenarios that need people are skipped. */
  fixtures?: FixtureProvider | null;
  /** Writes certification-report.json and .html here when given. */
  reportDir?: string;
  /** Default: the bundled scenarios. */
  scenariosDir?: string;
  scenarios?: Scenario[];
  /** Runs only the scenarios this accepts. */
  filter?: (s: Scenario) => boolean;
  concurrency?: number;
  otherBank?: string;
  closedCampaign?: string;
  /** Called as each case ends (a progress line). */
  onCase?: (c: CaseResult) => void;
}

export type CaseStatus = 'passed' | 'failed' | 'skipped';

export interface StepResult {
  step: number;
  kind: Step['kind'];
  label: string;
  conn: string;
  status: 'passed' | 'failed' | 'not_run';
  /** ms since the case started */
  startedMs: number;
  durationMs: number;
  /** Masked. */
  request?: string;
  /** Masked. */
  response?: string;
  failures: string[];
}

export interface CaseResult {
  name: string;
  file: string;
  description: string;
  spec: string;
  tags: string[];
  status: CaseStatus;
  /** Why it was skipped, or what stopped it. */
  reason?: string;
  durationMs: number;
  /** People used, by role → kind (never their numbers). */
  people: Record<string, PersonKind>;
  steps: StepResult[];
  transcript: TranscriptLine[];
}

export interface Report {
  format: 'entitlement-switch-certification/1';
  switch: string;
  bank: string;
  mac: boolean;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  totals: { cases: number; passed: number; failed: number; skipped: number };
  /** Every case passed (a skipped case is not a pass). */
  passed: boolean;
  cases: CaseResult[];
  files?: { json: string; html: string };
}

export class CertificationError extends Error {}

interface Env {
  o: CertificationOptions;
  macKey: Buffer | null;
  stan: StanGenerator;
  runTag: string;
  otherBank: string;
  closedCampaign: string;
  /** Clear identifiers handed out (fixtures and made-up ones): the reports are checked for them. */
  identifiers: Set<string>;
}

/** Runs the certification suite; writes the reports when reportDir is given. Throws CertificationError when the switch cannot be reached or refuses the bank. */
export async function runCertification(o: CertificationOptions): Promise<Report> {
  if (!/^\d{1,11}$/.test(o.bankCode)) throw new CertificationError(`bank code must be 1 to 11 digits, got "${o.bankCode}"`);
  const macKey = o.macKey ?? null;
  if (macKey && macKey.length !== 16) throw new CertificationError('MAC key must be 16 bytes (AES-128)');
  const concurrency = o.concurrency ?? RUNNER_LIMITS.DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > RUNNER_LIMITS.MAX_CONCURRENCY) {
    throw new CertificationError(`concurrency must be 1 to ${RUNNER_LIMITS.MAX_CONCURRENCY}`);
  }
  const all = o.scenarios ?? loadScenarios(o.scenariosDir ?? SCENARIOS_DIR);
  const scenarios = o.filter ? all.filter(o.filter) : all;
  const env: Env = {
    o,
    macKey,
    stan: new StanGenerator(),
    // Part of every terminal ID: a second run against the same switch never repeats a message key.
    runTag: randomBytes(3).readUIntBE(0, 3).toString(36).padStart(3, '0').slice(-3).toUpperCase(),
    otherBank: o.otherBank ?? DEFAULT_OTHER_BANK,
    closedCampaign: o.closedCampaign ?? o.fixtures?.closedCampaign ?? DEFAULT_CLOSED_CAMPAIGN,
    identifiers: new Set(),
  };
  await preflight(env);

  const started = new Date();
  const results: CaseResult[] = new Array(scenarios.length);
  let next = 0;
  const worker = async () => {
    while (next < scenarios.length) {
      const i = next++;
      results[i] = await runCase(scenarios[i]!, i, env);
      o.onCase?.(results[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, scenarios.length) }, worker));
  const finished = new Date();
  const totals = {
    cases: results.length,
    passed: results.filter((r) => r.status === 'passed').length,
    failed: results.filter((r) => r.status === 'failed').length,
    skipped: results.filter((r) => r.status === 'skipped').length,
  };
  const report: Report = {
    format: 'entitlement-switch-certification/1',
    switch: `${o.switchHost}:${o.switchPort}`,
    bank: o.bankCode,
    mac: macKey !== null,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    totals,
    passed: totals.cases > 0 && totals.passed === totals.cases,
    cases: results,
  };
  if (o.reportDir) report.files = await writeReports(report, o.reportDir, [...env.identifiers]);
  return report;
}

/** The switch answers and takes the bank's sign-on, or the run stops with one line saying why. */
async function preflight(env: Env): Promise<void> {
  const { o } = env;
  const log = () => {};
  let wire: Wire;
  try {
    wire = await Wire.open({ name: 'preflight', host: o.switchHost, port: o.switchPort, bankCode: o.bankCode, macKey: env.macKey, stan: env.stan, connectTimeoutMs: RUNNER_LIMITS.CONNECT_TIMEOUT_MS, clock: () => 0, log });
  } catch (e) {
    throw new CertificationError(`cannot reach the switch at ${o.switchHost}:${o.switchPort}: ${(e as Error).message}`);
  }
  try {
    const r = await signOn(wire, env, () => {});
    if (!r) throw new CertificationError(`the switch at ${o.switchHost}:${o.switchPort} did not answer a sign-on within ${RUNNER_LIMITS.CONNECT_TIMEOUT_MS} ms`);
    if (r.macError) throw new CertificationError(`the switch's sign-on answer failed the MAC check (${r.macError}): is --mac-key the bank's key?`);
    const rc = r.msg.fields[39];
    if (rc !== '00') {
      const hint = rc === '58' ? `: is bank ${o.bankCode} registered and active (ctl bank add)?` : rc === '63' ? ': the bank has a MAC key: pass it (--mac-key)' : '';
      throw new CertificationError(`the switch refused the sign-on of bank ${o.bankCode} with 39=${rc ?? 'none'}${hint}`);
    }
  } finally {
    wire.close('preflight done');
  }
}

function encodeFor(msg: IsoMessage, mac: 'auto' | 'none' | 'wrong', key: Buffer | null): Buffer {
  const fields = { ...msg.fields };
  delete fields[MAC_PRIMARY_FIELD];
  delete fields[MAC_SECONDARY_FIELD];
  const clean = { mti: msg.mti, fields };
  if (mac === 'none' || !key) return encode(clean);
  const body = signMessage(clean, key);
  if (mac === 'wrong') body[body.length - 1]! ^= 0xff;
  return body;
}

/** Sends the sign-on (bases.json "signon") and returns the 0810, or null when none came. */
async function signOn(wire: Wire, env: Env, note: (t: string) => void): Promise<Received | null> {
  const now = new Date();
  const stan = env.stan.next();
  const base = bases().signon!;
  const ctx = staticContext(env, now, stan);
  const fields: IsoMessage['fields'] = {};
  for (const [k, t] of Object.entries(base.fields)) fields[Number(k)] = renderTemplate(t, ctx);
  const msg = { mti: base.mti, fields };
  const body = encodeFor(msg, 'auto', env.macKey);
  wire.sendBody(body, describe(decode(body)));
  const r = await wire.take((x) => x.msg.mti === '0810' && x.msg.fields[11] === stan, RUNNER_LIMITS.CONNECT_TIMEOUT_MS);
  note(r ? `sign-on answered 39=${r.msg.fields[39] ?? 'none'}` : 'sign-on not answered');
  return r;
}

/** A render context for messages outside any case (sign-on): only the simple placeholders work. */
function staticContext(env: Env, now: Date, stan: string): RenderContext {
  const none = (): never => {
    throw new TemplateError('not available here');
  };
  return {
    at: -1,
    stan: () => stan,
    now: () => now,
    bank: env.o.bankCode,
    otherBank: env.otherBank,
    terminal: '',
    campaign: env.o.fixtures?.campaign,
    closedCampaign: env.closedCampaign,
    defaultAmountTwd: env.o.fixtures?.amountTwd ?? 6000,
    person: none,
    random: { nhi: '', id: '' },
    resolveStep: none,
    request: none,
    response: none,
  };
}

// ——— one case ———

interface StepRecord {
  stan?: string;
  now?: Date;
  rendering?: boolean;
  request?: IsoMessage | null;
  bytes?: Buffer;
  /** The bytes were written without a length prefix. */
  unframed?: boolean;
  response?: IsoMessage | null;
  pending?: Promise<void>;
  result: StepResult;
}

class CaseAborted extends Error {}

function skipReason(s: Scenario, env: Env): string | null {
  if (s.needs.bankMac && !env.macKey) return 'needs a bank with a MAC key (run with --mac-key)';
  if (s.needs.campaign && !env.o.fixtures?.campaign) return 'needs the open campaign\'s code in the fixtures ("campaign")';
  const wanted = new Map<PersonKind, number>();
  for (const k of Object.values(s.needs.people)) wanted.set(k, (wanted.get(k) ?? 0) + 1);
  for (const [k, n] of wanted) {
    const have = env.o.fixtures?.available(k) ?? 0;
    if (have < n) return `needs ${n} fresh ${k} (${KIND_MEANING[k]}); the fixtures have ${have}${env.o.fixtures ? '' : ' (no --fixtures given)'}`;
  }
  return null;
}

async function runCase(s: Scenario, caseIndex: number, env: Env): Promise<CaseResult> {
  const result: CaseResult = {
    name: s.name,
    file: s.file,
    description: s.description,
    spec: s.spec,
    tags: s.tags,
    status: 'passed',
    durationMs: 0,
    people: { ...s.needs.people },
    steps: [],
    transcript: [],
  };
  const skip = skipReason(s, env);
  if (skip) return { ...result, status: 'skipped', reason: skip };

  const t0 = Date.now();
  const clock = () => Date.now() - t0;
  let dropped = 0;
  let over = false;
  const log = (line: TranscriptLine) => {
    if (over) return;
    if (result.transcript.length < RUNNER_LIMITS.MAX_TRANSCRIPT_LINES) result.transcript.push(line);
    else dropped++;
  };
  const people: Record<string, FixturePerson> = {};
  for (const [role, kind] of Object.entries(s.needs.people)) {
    people[role] = env.o.fixtures!.take(kind);
    for (const v of FixturePool.identifiers([people[role]!])) env.identifiers.add(v);
  }
  const random = randomIdentity();
  env.identifiers.add(random.nhi).add(random.id);
  const c: CaseCtx = {
    s,
    env,
    clock,
    log,
    people,
    random,
    terminal: terminalIdField(`C${env.runTag}${String(caseIndex + 1).padStart(4, '0')}`),
    wires: new Map(),
    records: s.steps.map((st) => ({
      result: { step: st.index + 1, kind: st.kind, label: st.label || defaultLabel(st), conn: st.conn, status: 'not_run', startedMs: 0, durationMs: 0, failures: [] },
    })),
    aborted: false,
  };
  result.steps = c.records.map((r) => r.result);

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), s.timeoutMs)));
  try {
    const outcome = await Promise.race([execute(c).then(() => 'done' as const), timedOut]);
    if (outcome === 'timeout') {
      c.aborted = true;
      result.status = 'failed';
      result.reason = `the case did not finish within ${s.timeoutMs} ms`;
    }
  } catch (e) {
    result.status = 'failed';
    result.reason = e instanceof CaseAborted ? e.message : `${(e as Error).name}: ${(e as Error).message}`;
  } finally {
    clearTimeout(timer);
    c.aborted = true;
    for (const w of c.wires.values()) w.close('case over');
    // With the connections closed, whatever still waits for a response ends at once.
    await Promise.allSettled(c.records.map((r) => r.pending));
    over = true;
  }
  if (result.steps.some((r) => r.status === 'failed')) {
    result.status = 'failed';
    result.reason ??= firstFailure(result);
  }
  if (dropped) result.transcript.push({ atMs: clock(), conn: '', dir: 'note', text: `… ${dropped} more lines not kept` });
  result.durationMs = clock();
  // A copy: a step still running after a timeout cannot change the report.
  return structuredClone(result);
}

function firstFailure(r: CaseResult): string {
  const s = r.steps.find((x) => x.status === 'failed');
  return s ? `step ${s.step} (${s.label}): ${s.failures[0] ?? 'failed'}` : 'failed';
}

function defaultLabel(st: Step): string {
  switch (st.kind) {
    case 'send':
      return `send ${st.message.mti}`;
    case 'raw':
      return 'send raw bytes';
    case 'repeat':
      return `repeat step ${st.of + 1}`;
    case 'connect':
      return `connect ${st.conn}`;
    case 'disconnect':
      return `disconnect ${st.conn}`;
    case 'wait':
      return `wait ${st.ms} ms`;
    case 'await':
      return `await steps ${st.steps.map((i) => i + 1).join(', ')}`;
    case 'store_and_forward':
      return `store and forward the ${st.advice} of step ${st.of + 1} across a restart`;
  }
}

interface CaseCtx {
  s: Scenario;
  env: Env;
  clock: () => number;
  log: (l: TranscriptLine) => void;
  people: Record<string, FixturePerson>;
  random: { nhi: string; id: string };
  terminal: string;
  wires: Map<string, Wire>;
  records: StepRecord[];
  aborted: boolean;
}

async function execute(c: CaseCtx): Promise<void> {
  if (c.s.setup.connect) await connect(c, 'main', c.s.setup.signOn);
  for (const step of c.s.steps) {
    if (c.aborted) return;
    const rec = c.records[step.index]!;
    rec.result.startedMs = c.clock();
    try {
      await runStep(c, step, rec);
    } catch (e) {
      rec.result.failures.push(e instanceof TemplateError ? `cannot build the message: ${e.message}` : (e as Error).message);
    }
    if (step.kind !== 'send' && step.kind !== 'raw' && step.kind !== 'repeat') rec.result.durationMs = c.clock() - rec.result.startedMs;
    if (rec.result.status === 'not_run' && !rec.pending) rec.result.status = rec.result.failures.length ? 'failed' : 'passed';
    if (rec.result.failures.length) rec.result.status = 'failed';
    // Setting up the rest of a case on a failed step only adds noise: stop here.
    if (rec.result.status === 'failed') return;
  }
  // Steps sent without waiting and never awaited are checked now.
  for (const rec of c.records) if (rec.pending) await rec.pending;
}

async function connect(c: CaseCtx, name: string, signOnToo: boolean): Promise<void> {
  const old = c.wires.get(name);
  old?.close('replaced by a new connection');
  const { o } = c.env;
  let wire: Wire;
  try {
    wire = await Wire.open({ name, host: o.switchHost, port: o.switchPort, bankCode: o.bankCode, macKey: c.env.macKey, stan: c.env.stan, connectTimeoutMs: RUNNER_LIMITS.CONNECT_TIMEOUT_MS, clock: c.clock, log: c.log });
  } catch (e) {
    throw new CaseAborted(`cannot connect "${name}": ${(e as Error).message}`);
  }
  c.wires.set(name, wire);
  if (!signOnToo) return;
  const r = await signOn(wire, c.env, (text) => c.log({ atMs: c.clock(), conn: name, dir: 'note', text }));
  if (!r || r.msg.fields[39] !== '00' || r.macError) {
    throw new CaseAborted(`sign-on of "${name}" failed: ${r ? (r.macError ? `MAC ${r.macError}` : `39=${r.msg.fields[39] ?? 'none'}`) : 'no answer'}`);
  }
}

function wireOf(c: CaseCtx, name: string): Wire {
  const w = c.wires.get(name);
  if (!w) throw new Error(`connection "${name}" is not open`);
  return w;
}

async function runStep(c: CaseCtx, step: Step, rec: StepRecord): Promise<void> {
  switch (step.kind) {
    case 'connect':
      await connect(c, step.conn, step.signOn);
      return;
    case 'disconnect':
      wireOf(c, step.conn).close('closed by the certification runner');
      return;
    case 'wait':
      await new Promise((r) => setTimeout(r, step.ms));
      return;
    case 'await':
      for (const i of step.steps) await c.records[i]!.pending;
      return;
    case 'store_and_forward':
      await storeAndForward(c, step, rec);
      return;
    default:
      return sendStep(c, step, rec);
  }
}

/** The step's request, built now — or earlier, when a step before it needed it (DE90 of a reversal sent first). */
function requestOf(c: CaseCtx, i: number): IsoMessage | null {
  const rec = c.records[i]!;
  if (rec.request !== undefined) return rec.request;
  const step = c.s.steps[i]!;
  if (step.kind === 'repeat') return (rec.request = requestOf(c, step.of));
  if (step.kind === 'raw') {
    try {
      return (rec.request = decode(rawBody(step)));
    } catch {
      return (rec.request = null);
    }
  }
  if (step.kind !== 'send') throw new TemplateError(`step ${i + 1} sends no message`);
  if (rec.rendering) throw new TemplateError(`step ${i + 1} refers to itself through other steps`);
  rec.rendering = true;
  try {
    const ctx = renderContext(c, i);
    const fields: IsoMessage['fields'] = {};
    for (const [k, t] of Object.entries(step.message.fields)) fields[Number(k)] = renderTemplate(t, ctx);
    rec.request = { mti: step.message.mti, fields };
    return rec.request;
  } finally {
    rec.rendering = false;
  }
}

/** The message body of a raw step (without its length prefix when the hex carries one). */
function rawBody(step: Extract<Step, { kind: 'raw' }>): Buffer {
  const b = Buffer.from(step.hex, 'hex');
  return step.asIs ? b.subarray(2) : b;
}

function renderContext(c: CaseCtx, at: number): RenderContext {
  const rec = c.records[at];
  const { env } = c;
  return {
    at,
    stan: () => (rec ? (rec.stan ??= env.stan.next()) : env.stan.next()),
    now: () => (rec ? (rec.now ??= new Date()) : new Date()),
    bank: env.o.bankCode,
    otherBank: env.otherBank,
    terminal: c.terminal,
    campaign: env.o.fixtures?.campaign,
    closedCampaign: env.closedCampaign,
    defaultAmountTwd: env.o.fixtures?.amountTwd ?? 6000,
    person: (role) => {
      const p = c.people[role];
      if (!p) throw new TemplateError(`no person for role "${role}"`);
      return p;
    },
    random: c.random,
    resolveStep: (ref) => {
      const i = /^\d+$/.test(ref) ? Number(ref) - 1 : c.s.steps.findIndex((x) => x.id === ref);
      if (i < 0 || i >= c.s.steps.length) throw new TemplateError(`no step "${ref}"`);
      return i;
    },
    request: (i) => {
      const m = requestOf(c, i);
      if (!m) throw new TemplateError(`step ${i + 1} has no decodable request`);
      return m;
    },
    response: (i) => c.records[i]?.response ?? null,
  };
}

async function sendStep(c: CaseCtx, step: MessageStep, rec: StepRecord): Promise<void> {
  const wire = wireOf(c, step.conn);
  let request: IsoMessage | null;
  let text: string;
  let unframed = false;
  let bytes: Buffer;
  if (step.kind === 'send') {
    request = requestOf(c, step.index)!;
    bytes = encodeFor(request, step.mac, c.env.macKey);
    text = describe(decode(bytes)) + (step.mac === 'auto' ? '' : `  [MAC ${step.mac}]`);
  } else if (step.kind === 'raw') {
    request = requestOf(c, step.index);
    bytes = Buffer.from(step.hex, 'hex');
    unframed = step.asIs;
    text = unframed ? `raw bytes: ${bytes.length} bytes, length prefix ${bytes.length >= 2 ? bytes.readUInt16BE(0) : 'cut short'}` : `raw frame: ${describeBytes(bytes)}`;
  } else {
    const orig = c.records[step.of]!;
    if (!orig.bytes) throw new Error(`step ${step.of + 1} sent nothing to repeat`);
    request = requestOf(c, step.index);
    bytes = orig.bytes;
    unframed = orig.unframed ?? false;
    text = `the bytes of step ${step.of + 1} again: ${request ? describe(request) : describeBytes(bytes)}`;
  }
  rec.request = request;
  rec.bytes = bytes;
  rec.unframed = unframed;
  rec.result.request = text;
  const sentAt = c.clock();
  if (unframed) wire.sendBytes(bytes, text);
  else wire.sendBody(bytes, text);

  const finish = async () => {
    const failures = await checkOutcome(c, step, rec, wire);
    rec.result.durationMs = c.clock() - sentAt;
    rec.result.failures.push(...failures);
    rec.result.status = rec.result.failures.length ? 'failed' : 'passed';
  };
  if (step.wait) return finish();
  rec.pending = finish();
}

function matcher(request: IsoMessage | null, mti: string): (r: Received) => boolean {
  return (r) => {
    if (r.msg.mti !== mti) return false;
    if (!request) return true;
    // The §6 key: a response answers this request unless a key field it carries differs.
    for (const f of [11, 7, 41, 32]) {
      const a = request.fields[f];
      const b = r.msg.fields[f];
      if (a !== undefined && b !== undefined && a !== b) return false;
    }
    return true;
  };
}

async function checkOutcome(c: CaseCtx, step: MessageStep, rec: StepRecord, wire: Wire): Promise<string[]> {
  const o = step.outcome;
  switch (o.kind) {
    case 'unchecked':
      return [];
    case 'none': {
      const got = await wire.quietFor(o.ms);
      const out: string[] = [];
      if (got.length) out.push(`expected no response within ${o.ms} ms, got ${describe(got[0]!.msg)}`);
      if (wire.closed) out.push(`expected the connection to stay up, but it was closed (${wire.closeReason})`);
      return out;
    }
    case 'closed':
      return (await wire.closedWithin(o.ms)) ? [] : [`expected the switch to close the connection within ${o.ms} ms; it stayed open`];
    case 'response': {
      const e = o.expect;
      const request = rec.request ?? null;
      const mti = e.mti ?? (request ? responseMti(request.mti) : '');
      const r = await wire.take(matcher(request, mti), step.timeoutMs);
      if (!r) {
        rec.response = null;
        return [wire.closed ? `the connection was closed (${wire.closeReason}) before a ${mti} came` : `no ${mti} within ${step.timeoutMs} ms`];
      }
      rec.response = r.msg;
      rec.result.response = describe(r.msg);
      return evaluate(c, step.index, request, r, e, mti);
    }
  }
}

/** A field value as a report may show it: masked like the switch's logs. */
export function shown(field: number, value: string | undefined): string {
  if (value === undefined) return 'absent';
  const d = describe({ mti: '', fields: { [field]: value } });
  return d.slice(d.indexOf('=') + 1);
}

/** Every way the response differs from what the step expects, in words (values masked). */
function evaluate(c: CaseCtx | null, at: number, request: IsoMessage | null, r: Received, e: Expectation, mti: string): string[] {
  const out: string[] = [];
  const res = r.msg;
  if (r.macError && !(e.mac === 'any' && r.macError === 'missing')) out.push(`the response failed the MAC check (${r.macError})`);
  if (res.mti !== mti) out.push(`MTI ${res.mti}, expected ${mti}`);
  if (request) {
    for (const f of e.echo ?? DEFAULT_ECHO[mti] ?? []) {
      const sent = request.fields[f];
      if (sent !== undefined && res.fields[f] !== sent) out.push(`DE${f} not echoed: sent ${shown(f, sent)}, got ${shown(f, res.fields[f])}`);
    }
  }
  for (const f of e.present) if (res.fields[f] === undefined) out.push(`DE${f} must be present`);
  for (const f of e.absent) if (res.fields[f] !== undefined) out.push(`DE${f} must be absent, got ${shown(f, res.fields[f])}`);
  for (const [k, t] of Object.entries(e.equals)) {
    const f = Number(k);
    const want = c ? renderTemplate(t, renderContext(c, at)) : t;
    if (res.fields[f] !== want) out.push(`DE${f} is ${shown(f, res.fields[f])}, expected ${shown(f, want)}`);
  }
  for (const [k, re] of Object.entries(e.matches)) {
    const f = Number(k);
    const v = res.fields[f];
    if (v === undefined || !new RegExp(re).test(v)) out.push(`DE${f} is ${shown(f, v)}, expected to match /${re}/`);
  }
  if (e.sameAs !== undefined && c) {
    const before = c.records[e.sameAs]!.response;
    if (!before) out.push(`step ${e.sameAs + 1} got no response to compare with`);
    else {
      if (before.mti !== res.mti) out.push(`MTI ${res.mti}, step ${e.sameAs + 1} got ${before.mti}`);
      const keys = new Set([...Object.keys(before.fields), ...Object.keys(res.fields)].map(Number));
      for (const f of [...keys].sort((a, b) => a - b)) {
        if (before.fields[f] !== res.fields[f]) out.push(`DE${f} is ${shown(f, res.fields[f])}, step ${e.sameAs + 1} got ${shown(f, before.fields[f])}`);
      }
    }
  }
  return out;
}

/**
 * Store and forward across a restart, with the bank simulator's own queue (simulators/bank): a host that has no link
 * to the switch queues the advice durably and stops; a new host opens the same queue file, signs on and must drain it
 * (the advice goes out as a repeat, 0221/0421, and is acknowledged with 39=00).
 */
async function storeAndForward(c: CaseCtx, step: Extract<Step, { kind: 'store_and_forward' }>, rec: StepRecord): Promise<void> {
  const original = requestOf(c, step.of);
  if (!original) throw new Error(`step ${step.of + 1} has no request`);
  const { o } = c.env;
  const dir = await mkdtemp(path.join(tmpdir(), 'certify-saf-'));
  const queueFile = path.join(dir, 'queue.jsonl');
  const logger = createLogger({ component: 'bank' }, 'warn', (line) => c.log({ atMs: c.clock(), conn: 'bank', dir: 'note', text: line }));
  const options = {
    switchHost: o.switchHost,
    switchPort: o.switchPort,
    bankCode: o.bankCode,
    macKey: c.env.macKey,
    queueFile,
    logger,
    echo_interval_ms: 0,
    repeat_interval_ms: 100,
    request_timeout_ms: 3_000,
    reconnect_base_delay_ms: 50,
    reconnect_max_delay_ms: 500,
    reconnect_max_attempts: 5,
  };
  const note = (text: string) => c.log({ atMs: c.clock(), conn: 'bank', dir: 'note', text });
  try {
    // The first host never connects: the link is down when the ATM reports the dispense.
    const first = await BankHost.open(options);
    const reason = step.reason as Extract<DispenseOutcome, { kind: 'none' }>['reason'];
    const advice = step.advice === 'confirmation' ? first.completion(original) : first.reversal(original, { kind: 'none', reason });
    await first.enqueueAdvice(advice);
    rec.result.request = `${describe(advice)}  [queued with the link down]`;
    note(`queued ${advice.mti} while the link was down; queue depth ${first.queueDepth()}; stopping the bank host`);
    await first.close(0);

    const second = await BankHost.open(options);
    const depth = second.queueDepth();
    note(`bank host restarted with the same queue file: depth ${depth}`);
    if (depth !== 1) {
      rec.result.failures.push(`the queue file held ${depth} advices after the restart, expected 1`);
      await second.close(0);
      return;
    }
    let answer = null as IsoMessage | null;
    second.on('traffic', ({ dir, msg }: { dir: 'in' | 'out'; msg: IsoMessage }) => {
      c.log({ atMs: c.clock(), conn: 'bank', dir, text: describe(msg) });
      if (dir === 'in' && (msg.mti === '0230' || msg.mti === '0430')) answer = msg;
    });
    const t = c.clock();
    await second.start();
    const drained = await second.drainQueue(step.timeoutMs);
    rec.result.durationMs = c.clock() - t;
    if (answer) rec.result.response = describe(answer);
    if (!drained) {
      const entry = second.queue.entries()[0];
      rec.result.failures.push(`the queue did not drain within ${step.timeoutMs} ms${entry?.attention ? ` (${entry.attention})` : ''}`);
    } else if (second.forwarder.repeatsSent < 1) {
      rec.result.failures.push('the advice found after the restart was not sent as a repeat (0221/0421)');
    }
    await second.close(2_000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
