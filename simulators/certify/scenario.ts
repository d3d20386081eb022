// Scenario files (README.md): JSON data that says what to send and what must come back. The loader checks a file
// completely before anything runs — keys, types, step references, templates — and names the file and the place of
// the first problem, so a broken scenario is a one-line load error, never a confusing failed case.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { PERSON_KINDS, type PersonKind } from './fixtures.ts';
import { checkTemplate, TemplateError, type CheckContext } from './template.ts';

export const SCENARIOS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scenarios');
const BASES_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bases.json');

export const LIMITS = {
  MAX_SCENARIO_FILE_BYTES: 256 * 1024,
  MAX_SCENARIO_FILES: 1_000,
  MAX_STEPS: 100,
  MAX_CASE_TIMEOUT_MS: 120_000,
  DEFAULT_CASE_TIMEOUT_MS: 20_000,
  MAX_STEP_TIMEOUT_MS: 60_000,
  DEFAULT_STEP_TIMEOUT_MS: 5_000,
  MAX_WAIT_MS: 60_000,
  /** A raw frame: the largest length prefix plus its body, in hex. */
  MAX_RAW_HEX_CHARS: 2 * (2 + 65_535),
} as const;

export type MacMode = 'auto' | 'none' | 'wrong';
export type Claimant = 'self' | 'guardian' | 'random' | 'none';
export type Card = 'current' | 'old' | 'random';
export type CampaignChoice = 'none' | 'open' | 'closed';

export interface MessageTemplate {
  mti: string;
  /** Field number → template (fields.ts order does not matter: the codec writes them in order). */
  fields: Record<number, string>;
}

export interface Expectation {
  /** The response MTI; by default the request's response MTI (0200 → 0210, 0221 → 0230). */
  mti?: string;
  /** Fields the response must carry with the request's values; null: the defaults for the response MTI. */
  echo: number[] | null;
  present: number[];
  absent: number[];
  /** Field → template of the exact value. */
  equals: Record<number, string>;
  /** Field → regular expression the value must match. */
  matches: Record<number, string>;
  /** 0-based step whose response this one must equal field for field. */
  sameAs?: number;
  /**
   * On a MAC bank: 'valid' (default) — the response must carry a valid MAC; 'any' — it may come unsigned (the switch
   * cannot know the bank yet: before sign-on, or a refused sign-on), but a wrong MAC still fails.
   */
  mac: 'valid' | 'any';
}

export type Outcome =
  | { kind: 'response'; expect: Expectation }
  | { kind: 'none'; ms: number }
  | { kind: 'closed'; ms: number }
  | { kind: 'unchecked' };

interface StepCommon {
  index: number;
  id?: string;
  label: string;
  conn: string;
}

export interface MessageStepCommon extends StepCommon {
  wait: boolean;
  timeoutMs: number;
  outcome: Outcome;
}

export type Step =
  | (MessageStepCommon & { kind: 'send'; message: MessageTemplate; mac: MacMode })
  | (MessageStepCommon & { kind: 'raw'; hex: string; asIs: boolean })
  | (MessageStepCommon & { kind: 'repeat'; of: number })
  | (StepCommon & { kind: 'connect'; signOn: boolean })
  | (StepCommon & { kind: 'disconnect' })
  | (StepCommon & { kind: 'wait'; ms: number })
  | (StepCommon & { kind: 'await'; steps: number[] })
  | (StepCommon & { kind: 'store_and_forward'; advice: 'confirmation' | 'reversal'; of: number; reason: string; timeoutMs: number });

export type MessageStep = Extract<Step, { kind: 'send' | 'raw' | 'repeat' }>;

export interface Scenario {
  file: string;
  name: string;
  description: string;
  /** The section(s) of partner-interface.md it certifies. */
  spec: string;
  tags: string[];
  needs: {
    /** role → kind */
    people: Record<string, PersonKind>;
    bankMac: boolean;
    ledger: boolean;
    /** Uses {{campaign}} / cp=open: the fixtures must name the open campaign. */
    campaign: boolean;
  };
  setup: { connect: boolean; signOn: boolean };
  timeoutMs: number;
  steps: Step[];
}

export class ScenarioError extends Error {}

type Json = Record<string, unknown>;
type Bases = Record<string, { mti: string; fields: Record<string, string> }>;

let basesCache: Bases | null = null;
export function bases(): Bases {
  basesCache ??= JSON.parse(readFileSync(BASES_FILE, 'utf8')) as Bases;
  return basesCache;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,79}$/;
const CONN = /^[a-z][a-z0-9_]{0,15}$/;
const STEP_ID = /^[a-z][a-z0-9_]{0,31}$/;
const MTI = /^\d{4}$/;
const FIELD_KEY = /^[1-9]\d{0,2}$/;

const TOP_KEYS = ['name', 'description', 'spec', 'tags', 'needs', 'setup', 'timeout_ms', 'steps'];
const NEEDS_KEYS = ['people', 'bank_mac', 'ledger'];
const SETUP_KEYS = ['connect', 'sign_on'];
const EXPECT_KEYS = ['mti', 'echo', 'present', 'absent', 'equals', 'matches', 'same_as', 'mac'];
const OUTCOME_KEYS = ['wait', 'timeout_ms', 'expect', 'expect_none_ms', 'expect_closed_ms'];
const STEP_KEYS: Record<string, string[]> = {
  send: ['send', 'mti', 'fields', 'person', 'claimant', 'card', 'cp', 'of', 'reason', 'mac', ...OUTCOME_KEYS],
  raw: ['raw', 'as_is', ...OUTCOME_KEYS],
  repeat: ['repeat', ...OUTCOME_KEYS],
  connect: ['action', 'sign_on'],
  disconnect: ['action'],
  wait: ['action', 'ms'],
  await: ['action', 'steps'],
  store_and_forward: ['action', 'advice', 'of', 'reason', 'timeout_ms'],
};
const COMMON_STEP_KEYS = ['id', 'label', 'conn'];
const ACTIONS = ['connect', 'disconnect', 'wait', 'await', 'store_and_forward'];

/** Problems are thrown as `where: what` and prefixed with the file by the caller. */
class Problem extends Error {}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Json, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new Problem(`${where}: unknown key "${k}" (allowed: ${allowed.join(', ')})`);
}

function str(o: Json, k: string, where: string, required = false): string | undefined {
  const v = o[k];
  if (v === undefined) {
    if (required) throw new Problem(`${where}: "${k}" is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new Problem(`${where}.${k}: must be a string`);
  return v;
}

function bool(o: Json, k: string, where: string, fallback: boolean): boolean {
  const v = o[k];
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new Problem(`${where}.${k}: must be true or false`);
  return v;
}

function int(o: Json, k: string, where: string, min: number, max: number, fallback?: number): number | undefined {
  const v = o[k];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new Problem(`${where}.${k}: must be a whole number from ${min} to ${max}`);
  return v;
}

function oneOf<T extends string>(o: Json, k: string, where: string, allowed: readonly T[], fallback: T): T {
  const v = str(o, k, where);
  if (v === undefined) return fallback;
  if (!allowed.includes(v as T)) throw new Problem(`${where}.${k}: must be one of ${allowed.join(', ')}`);
  return v as T;
}

function fieldList(v: unknown, where: string): number[] {
  if (!Array.isArray(v)) throw new Problem(`${where}: must be a list of field numbers`);
  return v.map((n, i) => {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 128) throw new Problem(`${where}[${i}]: must be a field number 1-128`);
    return n;
  });
}

function fieldMap(v: unknown, where: string, allowNull: boolean): Record<number, string | null> {
  if (!isObject(v)) throw new Problem(`${where}: must be an object of field number → value`);
  const out: Record<number, string | null> = {};
  for (const [k, val] of Object.entries(v)) {
    if (!FIELD_KEY.test(k) || Number(k) > 128) throw new Problem(`${where}: key "${k}" is not a field number 1-128`);
    if (val === null && allowNull) out[Number(k)] = null;
    else if (typeof val !== 'string') throw new Problem(`${where}.${k}: must be a string${allowNull ? ' (or null to leave the field out)' : ''}`);
    else out[Number(k)] = val;
  }
  return out;
}

/** Parses and checks one scenario file's text. Throws ScenarioError `file: where: what`. */
export function parseScenario(text: string, file: string): Scenario {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ScenarioError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  try {
    return checkScenario(doc, file);
  } catch (e) {
    if (e instanceof Problem || e instanceof TemplateError) throw new ScenarioError(`${file}: ${e.message}`);
    throw e;
  }
}

function checkScenario(doc: unknown, file: string): Scenario {
  if (!isObject(doc)) throw new Problem('the file must hold one JSON object');
  onlyKeys(doc, TOP_KEYS, 'scenario');
  const name = str(doc, 'name', 'scenario', true)!;
  if (!NAME.test(name)) throw new Problem('name: lower-case letters, digits and "-", at most 80');
  const description = str(doc, 'description', 'scenario', true)!;
  const spec = str(doc, 'spec', 'scenario', true)!;
  if (!description.trim() || !spec.trim()) throw new Problem('description and spec must not be empty');
  const tags = doc.tags === undefined ? [] : doc.tags;
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string' || !NAME.test(t))) throw new Problem('tags: must be a list of lower-case words');

  const needsRaw = doc.needs ?? {};
  if (!isObject(needsRaw)) throw new Problem('needs: must be an object');
  onlyKeys(needsRaw, NEEDS_KEYS, 'needs');
  const people: Record<string, PersonKind> = {};
  if (needsRaw.people !== undefined) {
    if (!isObject(needsRaw.people)) throw new Problem('needs.people: must be an object of role → kind');
    for (const [role, kind] of Object.entries(needsRaw.people)) {
      if (!STEP_ID.test(role)) throw new Problem(`needs.people: role "${role}" must be a lower-case word`);
      if (typeof kind !== 'string' || !PERSON_KINDS.includes(kind as PersonKind)) {
        throw new Problem(`needs.people.${role}: kind must be one of ${PERSON_KINDS.join(', ')}`);
      }
      people[role] = kind as PersonKind;
    }
  }
  const needs = {
    people,
    bankMac: bool(needsRaw, 'bank_mac', 'needs', false),
    ledger: bool(needsRaw, 'ledger', 'needs', false),
    campaign: false,
  };
  const setupRaw = doc.setup ?? {};
  if (!isObject(setupRaw)) throw new Problem('setup: must be an object');
  onlyKeys(setupRaw, SETUP_KEYS, 'setup');
  const setup = { connect: bool(setupRaw, 'connect', 'setup', true), signOn: bool(setupRaw, 'sign_on', 'setup', true) };
  if (setup.signOn && !setup.connect) throw new Problem('setup: sign_on needs connect');
  const timeoutMs = int(doc, 'timeout_ms', 'scenario', 100, LIMITS.MAX_CASE_TIMEOUT_MS, LIMITS.DEFAULT_CASE_TIMEOUT_MS)!;

  if (!Array.isArray(doc.steps) || doc.steps.length === 0) throw new Problem('steps: must be a non-empty list');
  if (doc.steps.length > LIMITS.MAX_STEPS) throw new Problem(`steps: at most ${LIMITS.MAX_STEPS}`);
  const rawSteps = doc.steps as unknown[];

  // First pass: kinds and ids, so that references can point forward.
  const kinds: string[] = [];
  const ids = new Map<string, number>();
  rawSteps.forEach((s, i) => {
    const where = `steps[${i + 1}]`;
    if (!isObject(s)) throw new Problem(`${where}: must be an object`);
    const has = ['send', 'raw', 'repeat', 'action'].filter((k) => s[k] !== undefined);
    if (has.length !== 1) throw new Problem(`${where}: must have exactly one of send, raw, repeat, action`);
    let kind = has[0]!;
    if (kind === 'action') {
      if (typeof s.action !== 'string' || !ACTIONS.includes(s.action)) throw new Problem(`${where}.action: must be one of ${ACTIONS.join(', ')}`);
      kind = s.action;
    }
    kinds.push(kind);
    const id = s.id;
    if (id !== undefined) {
      if (typeof id !== 'string' || !STEP_ID.test(id)) throw new Problem(`${where}.id: must be a lower-case word`);
      if (ids.has(id)) throw new Problem(`${where}.id: "${id}" is used by step ${ids.get(id)! + 1} already`);
      ids.set(id, i);
    }
  });
  const isMessageStep = (i: number) => kinds[i] === 'send' || kinds[i] === 'repeat';
  const resolveStep = (ref: string): number | null => {
    if (/^\d{1,3}$/.test(ref)) {
      const n = Number(ref);
      return n >= 1 && n <= rawSteps.length ? n - 1 : null;
    }
    return ids.get(ref) ?? null;
  };
  const stepRef = (v: unknown, where: string, at: number, opts: { earlier: boolean; message: boolean; allowRaw?: boolean }): number => {
    if (typeof v !== 'number' && typeof v !== 'string') throw new Problem(`${where}: must be a step number or id`);
    const i = resolveStep(String(v));
    if (i === null) throw new Problem(`${where}: there is no step "${v}"`);
    if (i === at) throw new Problem(`${where}: a step cannot refer to itself`);
    if (opts.earlier && i > at) throw new Problem(`${where}: step "${v}" comes later`);
    if (opts.message && !(isMessageStep(i) || (opts.allowRaw && kinds[i] === 'raw'))) throw new Problem(`${where}: step "${v}" does not send a message`);
    return i;
  };
  const roles = new Set(Object.keys(people));
  const firstRole = Object.keys(people)[0] ?? '';
  const conns = new Set<string>(['main']);

  const steps: Step[] = rawSteps.map((s0, i): Step => {
    const s = s0 as Json;
    const kind = kinds[i]!;
    const where = `steps[${i + 1}]`;
    onlyKeys(s, [...COMMON_STEP_KEYS, ...STEP_KEYS[kind]!], `${where} (${kind})`);
    const conn = str(s, 'conn', where) ?? 'main';
    if (!CONN.test(conn)) throw new Problem(`${where}.conn: must be a lower-case word`);
    const common: StepCommon = { index: i, label: str(s, 'label', where) ?? '', conn, ...(s.id !== undefined ? { id: s.id as string } : {}) };
    const templateCtx: CheckContext = { roles, at: i, resolveStep, isMessageStep };
    const checkT = (t: string, w: string) => {
      try {
        checkTemplate(t, templateCtx);
      } catch (e) {
        if (e instanceof TemplateError) throw new Problem(`${w}: ${e.message}`);
        throw e;
      }
      if (t.includes('{{campaign}}') || /cp=open/.test(t)) needs.campaign = true;
    };
    if (kind !== 'connect' && !conns.has(conn)) throw new Problem(`${where}.conn: connection "${conn}" is not opened by an earlier connect step`);

    const outcome = (defaultResponse: boolean): { wait: boolean; timeoutMs: number; outcome: Outcome } => {
      const wait = bool(s, 'wait', where, true);
      const timeoutMs = int(s, 'timeout_ms', where, 1, LIMITS.MAX_STEP_TIMEOUT_MS, LIMITS.DEFAULT_STEP_TIMEOUT_MS)!;
      const set = ['expect', 'expect_none_ms', 'expect_closed_ms'].filter((k) => s[k] !== undefined);
      if (set.length > 1) throw new Problem(`${where}: at most one of expect, expect_none_ms, expect_closed_ms`);
      if (s.expect_none_ms !== undefined || s.expect_closed_ms !== undefined) {
        if (!wait) throw new Problem(`${where}: expect_none_ms / expect_closed_ms need "wait": true`);
        const k = s.expect_none_ms !== undefined ? 'expect_none_ms' : 'expect_closed_ms';
        const ms = int(s, k, where, 1, LIMITS.MAX_WAIT_MS)!;
        return { wait, timeoutMs, outcome: { kind: k === 'expect_none_ms' ? 'none' : 'closed', ms } };
      }
      if (s.expect === undefined) {
        return { wait, timeoutMs, outcome: wait && defaultResponse ? { kind: 'response', expect: emptyExpectation() } : { kind: 'unchecked' } };
      }
      return { wait, timeoutMs, outcome: { kind: 'response', expect: expectation(s.expect, `${where}.expect`, i, checkT, stepRef) } };
    };

    switch (kind) {
      case 'send': {
        if (s.of !== undefined) stepRef(s.of, `${where}.of`, i, { earlier: false, message: true });
        const message = sendMessage(s, where, firstRole, roles);
        for (const [f, t] of Object.entries(message.fields)) checkT(t, `${where}: DE${f}`);
        const mac = oneOf(s, 'mac', where, ['auto', 'none', 'wrong'] as const, 'auto');
        if (mac !== 'auto') needs.bankMac = true;
        return { ...common, kind, message, mac, ...outcome(true) };
      }
      case 'raw': {
        const hex = str(s, 'raw', where, true)!.replace(/\s+/g, '');
        if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Problem(`${where}.raw: must be hex bytes`);
        if (hex.length > LIMITS.MAX_RAW_HEX_CHARS) throw new Problem(`${where}.raw: longer than one frame can be`);
        const asIs = bool(s, 'as_is', where, false);
        if (!asIs && hex.length === 0) throw new Problem(`${where}.raw: empty (a keep-alive is "0000" with "as_is": true)`);
        const o = outcome(false);
        if (o.outcome.kind === 'response' && o.outcome.expect.mti === undefined) throw new Problem(`${where}.expect.mti: required for raw bytes`);
        return { ...common, kind, hex: hex.toLowerCase(), asIs, ...o };
      }
      case 'repeat': {
        const of = stepRef(s.repeat, `${where}.repeat`, i, { earlier: true, message: true, allowRaw: true });
        const o = outcome(true);
        if (kinds[of] === 'raw' && o.outcome.kind === 'response' && o.outcome.expect.mti === undefined) {
          throw new Problem(`${where}.expect.mti: required when repeating raw bytes`);
        }
        return { ...common, kind, of, ...o };
      }
      case 'connect':
        conns.add(conn);
        return { ...common, kind, signOn: bool(s, 'sign_on', where, true) };
      case 'disconnect':
        return { ...common, kind };
      case 'wait': {
        const ms = int(s, 'ms', where, 0, LIMITS.MAX_WAIT_MS);
        if (ms === undefined) throw new Problem(`${where}.ms: required`);
        return { ...common, kind, ms };
      }
      case 'await': {
        if (!Array.isArray(s.steps) || s.steps.length === 0) throw new Problem(`${where}.steps: must list the steps sent with "wait": false`);
        const list = s.steps.map((r, k) => {
          const j = stepRef(r, `${where}.steps[${k + 1}]`, i, { earlier: true, message: true, allowRaw: true });
          if ((rawSteps[j] as Json).wait !== false) throw new Problem(`${where}.steps[${k + 1}]: step "${r}" was not sent with "wait": false`);
          return j;
        });
        return { ...common, kind, steps: list };
      }
      case 'store_and_forward': {
        const advice = oneOf(s, 'advice', where, ['confirmation', 'reversal'] as const, 'confirmation');
        const of = stepRef(s.of, `${where}.of`, i, { earlier: true, message: true });
        const reason = str(s, 'reason', where) ?? '17';
        if (!/^\d{2}$/.test(reason)) throw new Problem(`${where}.reason: must be 2 digits`);
        const timeoutMs = int(s, 'timeout_ms', where, 1, LIMITS.MAX_STEP_TIMEOUT_MS, 10_000)!;
        return { ...common, kind, advice, of, reason, timeoutMs };
      }
    }
    throw new Problem(`${where}: unknown step kind`);
  });
  return { file, name, description, spec, tags: tags as string[], needs, setup, timeoutMs, steps };
}

function emptyExpectation(): Expectation {
  return { echo: null, present: [], absent: [], equals: {}, matches: {}, mac: 'valid' };
}

function expectation(
  v: unknown,
  where: string,
  at: number,
  checkT: (t: string, w: string) => void,
  stepRef: (v: unknown, where: string, at: number, opts: { earlier: boolean; message: boolean }) => number,
): Expectation {
  if (!isObject(v)) throw new Problem(`${where}: must be an object`);
  onlyKeys(v, EXPECT_KEYS, where);
  const e = emptyExpectation();
  const mti = str(v, 'mti', where);
  if (mti !== undefined) {
    if (!MTI.test(mti)) throw new Problem(`${where}.mti: must be 4 digits`);
    e.mti = mti;
  }
  if (v.echo !== undefined) e.echo = fieldList(v.echo, `${where}.echo`);
  if (v.present !== undefined) e.present = fieldList(v.present, `${where}.present`);
  if (v.absent !== undefined) e.absent = fieldList(v.absent, `${where}.absent`);
  if (v.equals !== undefined) {
    const m = fieldMap(v.equals, `${where}.equals`, false) as Record<number, string>;
    for (const [f, t] of Object.entries(m)) checkT(t, `${where}.equals.${f}`);
    e.equals = m;
  }
  if (v.matches !== undefined) {
    const m = fieldMap(v.matches, `${where}.matches`, false) as Record<number, string>;
    for (const [f, re] of Object.entries(m)) {
      try {
        new RegExp(re);
      } catch {
        throw new Problem(`${where}.matches.${f}: not a regular expression`);
      }
    }
    e.matches = m;
  }
  for (const f of e.absent) {
    if (e.present.includes(f) || f in e.equals || f in e.matches) throw new Problem(`${where}: DE${f} cannot be both absent and expected`);
  }
  e.mac = oneOf(v, 'mac', where, ['valid', 'any'] as const, 'valid');
  if (v.same_as !== undefined) e.sameAs = stepRef(v.same_as, `${where}.same_as`, at, { earlier: true, message: true });
  return e;
}

/** The message a send step sends: its base (bases.json) or its own mti + fields, then its overrides, step attributes filled in. */
function sendMessage(s: Json, where: string, firstRole: string, roles: Set<string>): MessageTemplate {
  let mti: string;
  let fields: Record<number, string | null>;
  if (typeof s.send === 'string') {
    const base = bases()[s.send];
    if (!base) throw new Problem(`${where}.send: unknown base "${s.send}" (one of ${Object.keys(bases()).join(', ')}, or an object with mti and fields)`);
    mti = base.mti;
    fields = fieldMap(base.fields, `bases.${s.send}`, false);
  } else if (isObject(s.send)) {
    onlyKeys(s.send, ['mti', 'fields'], `${where}.send`);
    mti = str(s.send, 'mti', `${where}.send`, true)!;
    fields = fieldMap(s.send.fields ?? {}, `${where}.send.fields`, false);
  } else throw new Problem(`${where}.send: must be a base name or an object with mti and fields`);
  const override = str(s, 'mti', where);
  if (override !== undefined) mti = override;
  if (!MTI.test(mti)) throw new Problem(`${where}.mti: must be 4 digits`);
  if (s.fields !== undefined) Object.assign(fields, fieldMap(s.fields, `${where}.fields`, true));

  const person = str(s, 'person', where) ?? firstRole;
  if (person && !roles.has(person)) throw new Problem(`${where}.person: role "${person}" is not declared in needs.people`);
  const claimant = oneOf(s, 'claimant', where, ['self', 'guardian', 'random', 'none'] as const, 'self');
  const card = oneOf(s, 'card', where, ['current', 'old', 'random'] as const, 'current');
  const cp = oneOf(s, 'cp', where, ['none', 'open', 'closed'] as const, 'none');
  const reason = str(s, 'reason', where) ?? '17';
  if (!/^\d{2}$/.test(reason)) throw new Problem(`${where}.reason: must be 2 digits`);
  const of = s.of === undefined ? '' : String(s.of);
  const attrs: Record<string, string> = { person, claimant, card, cp, reason, of };
  const out: Record<number, string> = {};
  for (const [k, t] of Object.entries(fields)) {
    if (t === null) continue;
    if (t.includes('$of') && !of) throw new Problem(`${where}: base "${s.send}" needs "of": the step it refers to`);
    out[Number(k)] = t.replace(/\$(person|claimant|card|cp|reason|of)\b/g, (_, a: string) => attrs[a]!);
  }
  return { mti, fields: out };
}

/** Every *.json scenario in a directory, by file name. Throws ScenarioError on the first bad file or a repeated name. */
export function loadScenarios(dir: string = SCENARIOS_DIR): Scenario[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch (e) {
    throw new ScenarioError(`cannot read the scenario directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (names.length === 0) throw new ScenarioError(`${dir}: no *.json scenario files`);
  if (names.length > LIMITS.MAX_SCENARIO_FILES) throw new ScenarioError(`${dir}: more than ${LIMITS.MAX_SCENARIO_FILES} scenario files`);
  const seen = new Map<string, string>();
  return names.map((n) => {
    const file = path.join(dir, n);
    const s = loadScenarioFile(file);
    const other = seen.get(s.name);
    if (other) throw new ScenarioError(`${file}: name "${s.name}" is already used by ${other}`);
    seen.set(s.name, file);
    return s;
  });
}

export function loadScenarioFile(file: string): Scenario {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    throw new ScenarioError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (size > LIMITS.MAX_SCENARIO_FILE_BYTES) throw new ScenarioError(`${file}: larger than ${LIMITS.MAX_SCENARIO_FILE_BYTES} bytes`);
  return parseScenario(readFileSync(file, 'utf8'), path.basename(file));
}
