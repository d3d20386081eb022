// The ATM ↔ bank leg: the bank's own ATM protocol, which the partner interface leaves to each bank (§1).
// The simulators speak a minimal one with the project's one codec and framing, so there is one codec:
//
//   ATM → bank  0200  2 card (clear: this leg is inside the bank), 3, 4, 7, 11, 12, 13, 41, 49,
//                     48 = NH (beneficiary's NHI card) + ID (claimant) + PN (the PIN) [+ CP campaign]
//   bank → ATM  0210  echoes 3, 4, 7, 11, 12, 13, 41, 49; adds 39, 38 on approval, 44 on a decline, 54 on an inquiry
//   ATM → bank  0220  the cash was dispensed: 3, 4, 7 (new), 11 (new), 41, 49, 90 → the ATM's 0200
//   ATM → bank  0420  no cash or part of it: as 0220 plus 39 (17 cancel, 22 malfunction, 32 partial, 68 timeout), 95 if partial
//   bank → ATM  0230 / 0430  39=00 once the bank has the advice stored durably (it then owes the switch the advice)
//   either way  0800 / 0810  DE70 301 echo
//
// PN exists on this leg only. The bank checks the PIN and the cardholder itself and strips PN (and DE2) before
// anything goes to the switch: the switch never sees a PIN or a card number.
import { buildTlv, parseTlv, type FieldValues, type IsoMessage } from '../../switch/iso8583/index.ts';
import { amountField, amountTwd, originalData, parseOriginalData, replacementAmounts, terminalIdField } from './fields.ts';

/** Answers that come from the bank itself, not from the switch: the bank-side twin of switch/handlers/outcomes.ts. */
export const BANK_OUTCOMES = {
  WRONG_PIN: { rc: '55', reason: 'WRONG_PIN' },
  NOT_CARDHOLDER: { rc: '57', reason: 'NOT_CARDHOLDER' },
  CARD_NOT_OURS: { rc: '14', reason: 'CARD_NOT_OURS' },
  HOST_TIMEOUT: { rc: '68', reason: 'HOST_TIMEOUT' },
  LINK_DOWN: { rc: '91', reason: 'LINK_DOWN' },
  BANK_BUSY: { rc: '91', reason: 'BANK_BUSY' },
  BAD_REQUEST: { rc: '30', reason: 'BAD_REQUEST' },
} as const satisfies Record<string, { rc: string; reason: string }>;

export type BankOutcome = keyof typeof BANK_OUTCOMES;

export type Processing = 'withdrawal' | 'inquiry';
export const PROCESSING_CODE: Record<Processing, string> = { withdrawal: '010000', inquiry: '310000' };

export interface AtmRequest {
  terminalId: string;
  /** The terminal's own STAN and DE7: with DE41 they name this request on the ATM leg. */
  stan: string;
  transmission: string;
  localTime: string;
  localDate: string;
  processing: Processing;
  amountTwd: number;
  /** Absent when the terminal belongs to the bank that drives the switch directly (no issuer check). */
  card?: string;
  pin?: string;
  nhi: string;
  claimantId: string;
  campaign?: string;
}

export interface AtmAnswer {
  rc: string;
  reason: string | null;
  approvalCode: string | null;
  /** Inquiry only: the amount still available, whole TWD. */
  remainingTwd: number | null;
}

/** What left the machine after an approval. */
export type DispenseOutcome =
  | { kind: 'full' }
  | { kind: 'none'; reason: '17' | '22' | '68' }
  | { kind: 'partial'; dispensedTwd: number };

export interface AtmAdvice {
  terminalId: string;
  stan: string;
  transmission: string;
  /** The ATM 0200 it is about. */
  original: { stan: string; transmission: string };
  processing: Processing;
  amountTwd: number;
  outcome: DispenseOutcome;
}

/** What a terminal talks to: the bank simulator over TCP (BankClient) or in process (AtmGateway). */
export interface AtmBackend {
  authorize(req: AtmRequest): Promise<AtmAnswer>;
  /** Resolves with 39=00 once the bank holds the advice durably. */
  report(advice: AtmAdvice): Promise<AtmAnswer>;
  /** Approved withdrawals still waiting for their dispense report (a bank drains these before it stops). */
  pending?(): number;
}

export class AtmProtocolError extends Error {}

export function answerOf(outcome: BankOutcome): AtmAnswer {
  const o = BANK_OUTCOMES[outcome];
  return { rc: o.rc, reason: o.reason, approvalCode: null, remainingTwd: null };
}

export function atmRequestMessage(r: AtmRequest): IsoMessage {
  const tags: Array<[string, string]> = [['NH', r.nhi], ['ID', r.claimantId]];
  if (r.pin !== undefined) tags.push(['PN', r.pin]);
  if (r.campaign) tags.push(['CP', r.campaign]);
  const fields: FieldValues = {
    3: PROCESSING_CODE[r.processing],
    4: amountField(r.amountTwd),
    7: r.transmission,
    11: r.stan,
    12: r.localTime,
    13: r.localDate,
    41: terminalIdField(r.terminalId),
    48: buildTlv(tags),
    49: '901',
  };
  if (r.card !== undefined) fields[2] = r.card;
  return { mti: '0200', fields };
}

export function parseAtmRequest(m: IsoMessage): AtmRequest {
  const f = m.fields;
  const processing = (Object.keys(PROCESSING_CODE) as Processing[]).find((p) => PROCESSING_CODE[p] === f[3]);
  if (!processing) throw new AtmProtocolError('DE3: not a withdrawal or an inquiry');
  for (const n of [4, 7, 11, 12, 13, 41, 48] as const) if (f[n] === undefined) throw new AtmProtocolError(`DE${n} missing`);
  let tags: Map<string, string>;
  try {
    tags = parseTlv(f[48]!);
  } catch (e) {
    throw new AtmProtocolError((e as Error).message);
  }
  const nhi = tags.get('NH');
  const claimantId = tags.get('ID');
  if (nhi === undefined || claimantId === undefined) throw new AtmProtocolError('DE48: NH and ID are required');
  const req: AtmRequest = {
    terminalId: f[41]!.trimEnd(),
    stan: f[11]!,
    transmission: f[7]!,
    localTime: f[12]!,
    localDate: f[13]!,
    processing,
    amountTwd: amountTwd(f[4]),
    nhi,
    claimantId,
  };
  if (f[2] !== undefined) req.card = f[2];
  const pin = tags.get('PN');
  if (pin !== undefined) req.pin = pin;
  const cp = tags.get('CP');
  if (cp) req.campaign = cp;
  return req;
}

const ANSWER_ECHO = [3, 4, 7, 11, 12, 13, 41, 49, 90] as const;

/** 0210 / 0230 / 0430 to the ATM: the request's identifying fields, then the answer. */
export function atmAnswerMessage(req: IsoMessage, a: AtmAnswer): IsoMessage {
  const fields: FieldValues = {};
  for (const n of ANSWER_ECHO) if (req.fields[n] !== undefined) fields[n] = req.fields[n];
  fields[39] = a.rc;
  if (a.approvalCode) fields[38] = a.approvalCode;
  if (a.reason) fields[44] = a.reason;
  if (a.remainingTwd !== null) fields[54] = '0002C901' + amountField(a.remainingTwd);
  const fn = Number(req.mti[2]);
  return { mti: req.mti.slice(0, 2) + String(fn - (fn % 2) + 1) + '0', fields };
}

export function parseAtmAnswer(m: IsoMessage): AtmAnswer {
  const de54 = m.fields[54];
  return {
    rc: m.fields[39] ?? '96',
    reason: m.fields[44] ?? null,
    approvalCode: m.fields[38] ?? null,
    remainingTwd: de54 && de54.length >= 20 ? amountTwd(de54.slice(-12)) : null,
  };
}

export function atmAdviceMessage(a: AtmAdvice): IsoMessage {
  const original: IsoMessage = { mti: '0200', fields: { 11: a.original.stan, 7: a.original.transmission } };
  const fields: FieldValues = {
    3: PROCESSING_CODE[a.processing],
    4: amountField(a.amountTwd),
    7: a.transmission,
    11: a.stan,
    41: terminalIdField(a.terminalId),
    49: '901',
    90: originalData(original),
  };
  if (a.outcome.kind === 'full') return { mti: '0220', fields };
  if (a.outcome.kind === 'partial') {
    fields[39] = '32';
    fields[95] = replacementAmounts(a.outcome.dispensedTwd);
  } else fields[39] = a.outcome.reason;
  return { mti: '0420', fields };
}

export function parseAtmAdvice(m: IsoMessage): AtmAdvice {
  const f = m.fields;
  const o = parseOriginalData(f[90]);
  if (!o) throw new AtmProtocolError('DE90 missing or not 42 digits');
  for (const n of [4, 7, 11, 41] as const) if (f[n] === undefined) throw new AtmProtocolError(`DE${n} missing`);
  const processing = f[3] === PROCESSING_CODE.inquiry ? 'inquiry' : 'withdrawal';
  let outcome: DispenseOutcome;
  if (m.mti.startsWith('022')) outcome = { kind: 'full' };
  else if (f[39] === '32') outcome = { kind: 'partial', dispensedTwd: amountTwd(f[95]?.slice(0, 12)) };
  else if (f[39] === '17' || f[39] === '22' || f[39] === '68') outcome = { kind: 'none', reason: f[39] };
  else throw new AtmProtocolError('DE39 of a reversal must be 17, 22, 32 or 68');
  return {
    terminalId: f[41]!.trimEnd(),
    stan: f[11]!,
    transmission: f[7]!,
    original: { stan: o.stan, transmission: o.transmission },
    processing,
    amountTwd: amountTwd(f[4]),
    outcome,
  };
}
