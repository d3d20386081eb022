// Field values a bank host puts on the wire (partner-interface.md §3–§4): times, references, DE90/DE95, amounts.
// Pure functions of their inputs (the clock is passed in), shared by the bank host, the ATM leg and the ATM simulator.
import type { FieldValues, IsoMessage } from '../../switch/iso8583/message.ts';
import { responseMti } from '../../switch/handlers/respond.ts';
import { padFixed } from '../../switch/iso8583/index.ts';

const TAIPEI_OFFSET_MS = 8 * 3600_000;
const pad2 = (n: number) => String(n).padStart(2, '0');

/** DE7: UTC MMDDhhmmss. */
export function transmissionDateTime(now: Date): string {
  return pad2(now.getUTCMonth() + 1) + pad2(now.getUTCDate()) + pad2(now.getUTCHours()) + pad2(now.getUTCMinutes()) + pad2(now.getUTCSeconds());
}

/** DE12 hhmmss and DE13 MMDD: local time at the ATM, Asia/Taipei (no daylight saving). */
export function localTimeDate(now: Date): { time: string; date: string } {
  const t = new Date(now.getTime() + TAIPEI_OFFSET_MS);
  return {
    time: pad2(t.getUTCHours()) + pad2(t.getUTCMinutes()) + pad2(t.getUTCSeconds()),
    date: pad2(t.getUTCMonth() + 1) + pad2(t.getUTCDate()),
  };
}

/** DE37 an12: last digit of the year, day of the year (3), hour (2), STAN (6) — e.g. 333708000042. Local (Taipei) date. */
export function retrievalReference(now: Date, stan: string): string {
  const t = new Date(now.getTime() + TAIPEI_OFFSET_MS);
  const startOfYear = Date.UTC(t.getUTCFullYear(), 0, 1);
  const day = Math.floor((t.getTime() - startOfYear) / 86_400_000) + 1;
  return String(t.getUTCFullYear() % 10) + String(day).padStart(3, '0') + pad2(t.getUTCHours()) + stan.padStart(6, '0');
}

/** DE41 (ans8): a terminal id of 1 to 8 printable characters, space-padded as §3 says. */
export function terminalIdField(id: string): string {
  if (!/^[\x21-\x7e][\x20-\x7e]{0,7}$/.test(id)) throw new RangeError(`terminal id must be 1 to 8 printable characters, got ${JSON.stringify(id)}`);
  return padFixed(41, id);
}

/** DE4 n12 from whole TWD: NT$6,000 → 000000600000. */
export function amountField(twd: number): string {
  if (!Number.isInteger(twd) || twd < 0 || twd > 9_999_999_999) throw new RangeError(`amount must be whole TWD, got ${twd}`);
  return String(twd * 100).padStart(12, '0');
}

/** Whole TWD from DE4 / the first 12 digits of DE95 (fractions of a dollar do not occur in this scheme). */
export function amountTwd(field: string | undefined): number {
  if (field === undefined || !/^\d{12}$/.test(field)) return 0;
  return Math.floor(Number(field) / 100);
}

/** DE90: original MTI n4 + STAN n6 + DE7 n10 + acquirer n11 + forwarding n11, zero-padded. */
export function originalData(original: IsoMessage): string {
  const f = original.fields;
  return (
    original.mti +
    (f[11] ?? '').padStart(6, '0') +
    (f[7] ?? '').padStart(10, '0') +
    (f[32] ?? '').padStart(11, '0') +
    (f[33] ?? '').padStart(11, '0')
  );
}

export interface OriginalData {
  mti: string;
  stan: string;
  transmission: string;
  acquirer: string;
  forwarding: string;
}

export function parseOriginalData(de90: string | undefined): OriginalData | null {
  if (de90 === undefined || !/^\d{42}$/.test(de90)) return null;
  return {
    mti: de90.slice(0, 4),
    stan: de90.slice(4, 10),
    transmission: de90.slice(10, 20),
    acquirer: de90.slice(20, 31),
    forwarding: de90.slice(31, 42),
  };
}

/** DE95 an42: the amount actually dispensed n12 + 30 zeros. */
export function replacementAmounts(dispensedTwd: number): string {
  return amountField(dispensedTwd) + '0'.repeat(30);
}

/**
 * How responses are matched to requests (§6: DE32 + DE41 + DE11 + DE7 within an MTI class): the response MTI
 * plus those four fields. A request is filed under the MTI of the answer it expects, so a 0221 and its 0220 share a key.
 */
export function matchKey(mti: string, f: FieldValues): string {
  return [mti, f[11] ?? '', f[7] ?? '', (f[41] ?? '').trimEnd(), f[32] ?? ''].join('|');
}

export function requestKey(req: IsoMessage): string {
  return matchKey(responseMti(req.mti), req.fields);
}

export function responseKey(res: IsoMessage): string {
  return matchKey(res.mti, res.fields);
}

/** Requests carry an even function digit (0200, 0220, 0800 …); repeats an odd one (0221, 0421) — both are requests. */
export function isResponse(mti: string): boolean {
  const fn = Number(mti[2]);
  return fn % 2 === 1;
}
