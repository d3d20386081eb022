// What a request must carry to be answered on its merits (partner-interface.md §3–4).
// A request that breaks one of these gets its response MTI with 39=30; these checks run before sign-on is looked at.
import type { IsoMessage } from '../iso8583/message.ts';
import { parseTlv } from '../iso8583/de48.ts';

export interface Requirement {
  mandatory: readonly number[];
  /** Extra checks beyond the codec's per-field format; returns a reason or null. */
  check?: (msg: IsoMessage) => string | null;
}

const ADVICE_FIELDS = [3, 4, 7, 11, 32, 37, 41, 49, 90] as const;

const NHI = /^\d{12}$/;
const ID_SHAPE = /^[A-Z][1289A-D]\d{8}$/;

function validMmdd(mmdd: string): boolean {
  const m = Number(mmdd.slice(0, 2));
  const d = Number(mmdd.slice(2, 4));
  return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

function validHhmmss(s: string): boolean {
  return Number(s.slice(0, 2)) <= 23 && Number(s.slice(2, 4)) <= 59 && Number(s.slice(4, 6)) <= 59;
}

function dates(msg: IsoMessage): string | null {
  const f = msg.fields;
  if (f[7] !== undefined && !(validMmdd(f[7].slice(0, 4)) && validHhmmss(f[7].slice(4)))) return 'DE7 is not a date and time';
  if (f[12] !== undefined && !validHhmmss(f[12])) return 'DE12 is not a time';
  if (f[13] !== undefined && !validMmdd(f[13])) return 'DE13 is not a date';
  return null;
}

function original(msg: IsoMessage): string | null {
  const de90 = msg.fields[90]!;
  if (!de90.startsWith('0200')) return 'DE90 does not name a 0200';
  return dates({ mti: '', fields: { 7: de90.slice(10, 20) } }) ? 'DE90 holds a bad transmission time' : null;
}

export const REQUIREMENTS: Record<string, Requirement> = {
  '0800': {
    mandatory: [7, 11, 70],
    check: (m) => {
      const code = m.fields[70];
      if (code !== '001' && code !== '002' && code !== '301') return `DE70 ${code} is not 001, 002 or 301`;
      if (code === '001' && m.fields[32] === undefined) return 'sign-on without DE32';
      return dates(m);
    },
  },
  '0200': {
    mandatory: [3, 4, 7, 11, 12, 13, 32, 37, 41, 48, 49],
    check: (m) => {
      let tags: Map<string, string>;
      try {
        tags = parseTlv(m.fields[48]!);
      } catch {
        return 'DE48 is not tag-length-value';
      }
      const nh = tags.get('NH');
      const id = tags.get('ID');
      if (nh === undefined || id === undefined) return 'DE48 lacks NH or ID';
      if (!NHI.test(nh)) return 'DE48 NH is not 12 digits';
      if (!ID_SHAPE.test(id)) return 'DE48 ID is not an ID number';
      return dates(m);
    },
  },
  '0220': { mandatory: ADVICE_FIELDS, check: (m) => original(m) ?? dates(m) },
  '0420': {
    mandatory: ADVICE_FIELDS,
    check: (m) => {
      const de95 = m.fields[95];
      if (de95 !== undefined) {
        if (!/^\d{12}0{30}$/.test(de95)) return 'DE95 is not n12 dispensed amount + 30 zeros';
        if (BigInt(de95.slice(0, 12)) > BigInt(m.fields[4]!)) return 'DE95 dispensed more than DE4';
      }
      return original(m) ?? dates(m);
    },
  },
};
REQUIREMENTS['0221'] = REQUIREMENTS['0220']!;
REQUIREMENTS['0421'] = REQUIREMENTS['0420']!;

/** Null when the request can be answered on its merits, else the reason it is a format error (39=30). */
export function formatProblem(msg: IsoMessage): string | null {
  const req = REQUIREMENTS[msg.mti];
  if (!req) return `MTI ${msg.mti} is not a request of this interface`;
  const missing = req.mandatory.filter((n) => msg.fields[n] === undefined);
  if (missing.length) return `missing DE${missing.join(', DE')}`;
  return req.check ? req.check(msg) : null;
}
