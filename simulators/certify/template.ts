// Field values in scenario files are templates: literal text with `{{name arg=value …}}` placeholders
// (README.md, "Templates"). check() judges a template when the scenario is loaded, so a typo is a load error
// naming the file and step; render() fills it in when the step runs.
import { buildTlv, type IsoMessage } from '../../switch/iso8583/index.ts';
import { amountField, localTimeDate, originalData, replacementAmounts, retrievalReference, transmissionDateTime } from '../bank/fields.ts';
import type { FixturePerson } from './fixtures.ts';

/** What a template may refer to while the scenario is loaded. */
export interface CheckContext {
  roles: ReadonlySet<string>;
  /** 0-based index of the step the template belongs to. */
  at: number;
  /** A step number (1-based) or id → 0-based index, or null. */
  resolveStep(ref: string): number | null;
  /** True for steps that send a message (send, repeat): they have a request and a response. */
  isMessageStep(index: number): boolean;
}

/** What a template is filled in from while the case runs. */
export interface RenderContext {
  at: number;
  /** One fresh STAN per step: every `{{stan}}` of a step is the same number. */
  stan(): string;
  /** One instant per step. */
  now(): Date;
  bank: string;
  otherBank: string;
  terminal: string;
  campaign: string | undefined;
  closedCampaign: string;
  defaultAmountTwd: number;
  person(role: string): FixturePerson;
  random: { nhi: string; id: string };
  resolveStep(ref: string): number;
  /** The request of a step; a later step's request is built ahead when asked for (a reversal sent before its original). */
  request(index: number): IsoMessage;
  response(index: number): IsoMessage | null;
}

export class TemplateError extends Error {}

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;

interface Call {
  name: string;
  args: Record<string, string>;
}

function parseCall(inner: string): Call {
  const words = inner.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) throw new TemplateError('empty {{ }}');
  const args: Record<string, string> = {};
  for (const w of words.slice(1)) {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new TemplateError(`argument "${w}" of {{${words[0]}}} must be name=value`);
    const k = w.slice(0, eq);
    if (k in args) throw new TemplateError(`argument ${k} of {{${words[0]}}} given twice`);
    args[k] = w.slice(eq + 1);
  }
  return { name: words[0]!, args };
}

const SIMPLE = new Set(['stan', 'rrn', 'now.de7', 'now.de12', 'now.de13', 'bank', 'other_bank', 'terminal', 'campaign', 'closed_campaign', 'random.nhi', 'random.id']);
const PERSON_FIELDS = new Set(['nhi', 'id', 'guardian', 'old_nhi']);
const CLAIMANTS = new Set(['self', 'guardian', 'random', 'none']);
const CARDS = new Set(['current', 'old', 'random']);
const CPS = new Set(['none', 'open', 'closed']);
const HELPER_ARGS: Record<string, readonly string[]> = {
  amount: ['person', 'twd', 'minus_twd'],
  de48: ['person', 'claimant', 'card', 'cp'],
  de90: ['step'],
  de95: ['twd'],
};

function wholeTwd(v: string | undefined, what: string): number | null {
  if (v === undefined || v === '') return null;
  if (!/^\d{1,10}$/.test(v)) throw new TemplateError(`${what} must be whole TWD, got "${v}"`);
  return Number(v);
}

/** Throws TemplateError with a one-line reason when the template cannot be rendered in this scenario. */
export function checkTemplate(template: string, c: CheckContext): void {
  const stray = template.replace(PLACEHOLDER, '');
  if (stray.includes('{{') || stray.includes('}}')) throw new TemplateError('unbalanced {{ }}');
  for (const m of template.matchAll(PLACEHOLDER)) checkCall(parseCall(m[1]!), c);
}

function checkRole(role: string | undefined, c: CheckContext, what: string): void {
  if (role === undefined || role === '') return;
  if (!c.roles.has(role)) throw new TemplateError(`${what}: role "${role}" is not declared in needs.people`);
}

function checkStepRef(ref: string | undefined, c: CheckContext, what: string, needResponse: boolean): number {
  if (ref === undefined || ref === '') throw new TemplateError(`${what} needs a step`);
  const i = c.resolveStep(ref);
  if (i === null) throw new TemplateError(`${what}: there is no step "${ref}"`);
  if (!c.isMessageStep(i)) throw new TemplateError(`${what}: step "${ref}" does not send a message`);
  if (i === c.at) throw new TemplateError(`${what}: a step cannot refer to itself`);
  if (needResponse && i > c.at) throw new TemplateError(`${what}: the response of step "${ref}" is not known yet at step ${c.at + 1}`);
  return i;
}

function checkCall(call: Call, c: CheckContext): void {
  const { name, args } = call;
  const parts = name.split('.');
  if (SIMPLE.has(name)) {
    if (Object.keys(args).length) throw new TemplateError(`{{${name}}} takes no arguments`);
    return;
  }
  if (parts[0] === 'person') {
    if (parts.length !== 3 || !PERSON_FIELDS.has(parts[2]!)) throw new TemplateError(`{{${name}}}: write person.<role>.<nhi|id|guardian|old_nhi>`);
    checkRole(parts[1], c, `{{${name}}}`);
    return;
  }
  if (parts[0] === 'step') {
    const part = parts[2];
    const field = parts[3];
    if (parts.length !== 4 || (part !== 'request' && part !== 'response') || !(field === 'mti' || /^[1-9]\d{0,2}$/.test(field!))) {
      throw new TemplateError(`{{${name}}}: write step.<n|id>.<request|response>.<field number|mti>`);
    }
    checkStepRef(parts[1], c, `{{${name}}}`, part === 'response');
    return;
  }
  const allowed = HELPER_ARGS[name];
  if (!allowed) throw new TemplateError(`unknown placeholder {{${name}}}`);
  for (const k of Object.keys(args)) if (!allowed.includes(k)) throw new TemplateError(`{{${name}}} has no argument "${k}" (it takes ${allowed.join(', ')})`);
  switch (name) {
    case 'amount':
      checkRole(args.person, c, '{{amount}}');
      wholeTwd(args.twd, '{{amount}} twd');
      wholeTwd(args.minus_twd, '{{amount}} minus_twd');
      return;
    case 'de48': {
      checkRole(args.person, c, '{{de48}}');
      const claimant = args.claimant || 'self';
      const card = args.card || 'current';
      if (!CLAIMANTS.has(claimant)) throw new TemplateError(`{{de48}} claimant must be ${[...CLAIMANTS].join('|')}`);
      if (!CARDS.has(card)) throw new TemplateError(`{{de48}} card must be ${[...CARDS].join('|')}`);
      if (args.cp && !CPS.has(args.cp)) throw new TemplateError(`{{de48}} cp must be ${[...CPS].join('|')}`);
      const needsPerson = card !== 'random' || claimant === 'self' || claimant === 'guardian';
      if (needsPerson && !args.person) {
        throw new TemplateError('{{de48}} needs a person (declare needs.people, or set "person"), unless card=random and claimant=random|none');
      }
      return;
    }
    case 'de90':
      checkStepRef(args.step, c, '{{de90}}', false);
      return;
    case 'de95':
      if (wholeTwd(args.twd, '{{de95}} twd') === null) throw new TemplateError('{{de95}} needs twd=<dispensed TWD>');
      return;
  }
}

export function renderTemplate(template: string, r: RenderContext): string {
  return template.replace(PLACEHOLDER, (_, inner: string) => renderCall(parseCall(inner), r));
}

function renderCall(call: Call, r: RenderContext): string {
  const { name, args } = call;
  const parts = name.split('.');
  switch (name) {
    case 'stan':
      return r.stan();
    case 'rrn':
      return retrievalReference(r.now(), r.stan());
    case 'now.de7':
      return transmissionDateTime(r.now());
    case 'now.de12':
      return localTimeDate(r.now()).time;
    case 'now.de13':
      return localTimeDate(r.now()).date;
    case 'bank':
      return r.bank;
    case 'other_bank':
      return r.otherBank;
    case 'terminal':
      return r.terminal;
    case 'campaign':
      if (!r.campaign) throw new TemplateError('{{campaign}}: the fixtures name no open campaign');
      return r.campaign;
    case 'closed_campaign':
      return r.closedCampaign;
    case 'random.nhi':
      return r.random.nhi;
    case 'random.id':
      return r.random.id;
    case 'amount': {
      const twd = args.twd ? Number(args.twd) : args.person ? r.person(args.person).amountTwd : r.defaultAmountTwd;
      const value = twd - (args.minus_twd ? Number(args.minus_twd) : 0);
      if (value < 0) throw new TemplateError('{{amount}} came out below zero');
      return amountField(value);
    }
    case 'de48':
      return de48(args, r);
    case 'de90':
      return originalData(r.request(r.resolveStep(args.step!)));
    case 'de95':
      return replacementAmounts(Number(args.twd));
  }
  if (parts[0] === 'person') {
    const p = r.person(parts[1]!);
    const v = parts[2] === 'nhi' ? p.nhi : parts[2] === 'id' ? p.id : parts[2] === 'guardian' ? p.guardianId : p.oldNhi;
    if (v === undefined) throw new TemplateError(`{{${name}}}: this ${p.kind} has no ${parts[2]}`);
    return v;
  }
  if (parts[0] === 'step') {
    const i = r.resolveStep(parts[1]!);
    const msg = parts[2] === 'request' ? r.request(i) : r.response(i);
    if (!msg) throw new TemplateError(`{{${name}}}: step ${i + 1} got no response`);
    const v = parts[3] === 'mti' ? msg.mti : msg.fields[Number(parts[3])];
    if (v === undefined) throw new TemplateError(`{{${name}}}: that message has no DE${parts[3]}`);
    return v;
  }
  throw new TemplateError(`unknown placeholder {{${name}}}`);
}

function de48(args: Record<string, string>, r: RenderContext): string {
  const claimant = args.claimant || 'self';
  const card = args.card || 'current';
  const p = args.person ? r.person(args.person) : null;
  const need = (v: string | undefined, what: string) => {
    if (!v) throw new TemplateError(`{{de48}}: ${p ? `this ${p.kind} has no ${what}` : `no person for ${what}`}`);
    return v;
  };
  const entries: Array<[string, string]> = [];
  entries.push(['NH', card === 'random' ? r.random.nhi : card === 'old' ? need(p?.oldNhi, 'old card') : need(p?.nhi, 'card')]);
  if (claimant !== 'none') {
    entries.push(['ID', claimant === 'random' ? r.random.id : claimant === 'guardian' ? need(p?.guardianId, 'guardian') : need(p?.id, 'ID')]);
  }
  if (args.cp === 'open') {
    if (!r.campaign) throw new TemplateError('{{de48 cp=open}}: the fixtures name no open campaign');
    entries.push(['CP', r.campaign]);
  } else if (args.cp === 'closed') entries.push(['CP', r.closedCampaign]);
  return buildTlv(entries);
}
