// Builds a response from its request: which fields each response echoes (partner-interface.md §4), then the outcome.
import type { FieldValues, IsoMessage } from '../iso8583/message.ts';
import { OUTCOMES, type Outcome } from './outcomes.ts';

/** Request MTI → response MTI: function digit request→response, advice→advice response; a repeat is answered as the original (0221→0230). */
export function responseMti(requestMti: string): string {
  const fn = Number(requestMti[2]);
  return requestMti.slice(0, 2) + String(fn % 2 === 0 ? fn + 1 : fn) + '0';
}

const ECHO: Record<string, readonly number[]> = {
  '08': [7, 11, 32, 70],
  '02': [3, 4, 7, 11, 12, 13, 32, 37, 41, 49, 90],
  '04': [3, 4, 7, 11, 12, 13, 32, 37, 41, 49, 90],
};

/** The settlement date (DE15, MMDD) is the switch's business date in Asia/Taipei. */
export function settlementDate(now: Date): string {
  const taipei = new Date(now.getTime() + 8 * 3600_000);
  return String(taipei.getUTCMonth() + 1).padStart(2, '0') + String(taipei.getUTCDate()).padStart(2, '0');
}

/** `extra` carries DE15, DE38 on approval, DE54 on an inquiry … */
export function respond(req: IsoMessage, outcome: Outcome, extra: FieldValues = {}): IsoMessage {
  const echo = ECHO[req.mti.slice(0, 2)] ?? [];
  const fields: FieldValues = {};
  for (const n of echo) {
    const v = req.fields[n];
    if (v !== undefined) fields[n] = v;
  }
  const o = OUTCOMES[outcome];
  fields[39] = o.rc;
  if (o.reason !== null && req.mti.slice(0, 2) !== '08') fields[44] = o.reason;
  Object.assign(fields, extra);
  return { mti: responseMti(req.mti), fields };
}
