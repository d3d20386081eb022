// The rules for one roster row (operations.md, "Roster file"), as pure functions: header -> column map,
// fields -> a checked row or the rule it breaks. Reasons name the column and the rule, never the value.
import { checkIdNumber, isValidNhiCardNumber } from './identity.ts';
import { parseWholeTwd, MAX_AMOUNT_TWD } from '../campaigns.ts';

export const REQUIRED_COLUMNS = ['nhi_card_no', 'id_no', 'birth_date', 'guardian_ids'] as const;
export const OPTIONAL_COLUMNS = ['amount'] as const;
export type Column = (typeof REQUIRED_COLUMNS)[number] | (typeof OPTIONAL_COLUMNS)[number];

/** More guardians than this on one row is taken for a mistake. */
export const MAX_GUARDIANS = 10;
/** Birth dates before this are taken for a mistake. */
export const MIN_BIRTH_DATE = '1900-01-01';

export class RosterFileError extends Error {}

export interface Header {
  index: Record<Column, number>;
  /** Fields a row must have. */
  width: number;
}

/** Columns by name, in any order; an unknown, repeated or missing column refuses the whole file. */
export function parseHeader(fields: string[] | null): Header {
  const expected = `expected ${REQUIRED_COLUMNS.join(', ')}[, ${OPTIONAL_COLUMNS.join(', ')}]`;
  if (!fields) throw new RosterFileError(`line 1: the header's quoting is broken (${expected})`);
  const index: Partial<Record<Column, number>> = {};
  const known = new Set<string>([...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS]);
  fields.forEach((raw, i) => {
    const name = raw.trim().toLowerCase();
    if (!known.has(name)) throw new RosterFileError(`line 1: unknown column "${name.slice(0, 40)}" (${expected})`);
    if (index[name as Column] !== undefined) throw new RosterFileError(`line 1: column "${name}" appears twice`);
    index[name as Column] = i;
  });
  const missing = REQUIRED_COLUMNS.filter((c) => index[c] === undefined);
  if (missing.length) throw new RosterFileError(`line 1: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (${expected})`);
  return { index: index as Record<Column, number>, width: fields.length };
}

export interface CheckedRow {
  nhi: string;
  id: string;
  /** YYYY-MM-DD */
  birthDate: string;
  /** Distinct guardian ID numbers. */
  guardians: string[];
  /** Whole TWD, or null for the campaign's amount. */
  amountTwd: number | null;
}

export type RowResult = { ok: true; row: CheckedRow } | { ok: false; reason: string };

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digitAt(s: string, i: number): number {
  return s.charCodeAt(i) - 48;
}

/** A real calendar date written YYYY-MM-DD. */
export function isIsoDate(s: string): boolean {
  // By its characters, without a regular expression and its substrings: this runs for every row of a roster.
  if (s.length !== 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return false; // '-'
  for (let i = 0; i < 10; i++) {
    const c = s.charCodeAt(i);
    if (i !== 4 && i !== 7 && (c < 48 || c > 57)) return false;
  }
  const y = digitAt(s, 0) * 1000 + digitAt(s, 1) * 100 + digitAt(s, 2) * 10 + digitAt(s, 3);
  const mo = digitAt(s, 5) * 10 + digitAt(s, 6);
  const d = digitAt(s, 8) * 10 + digitAt(s, 9);
  if (mo < 1 || mo > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return d <= (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1]!);
}

/** Today's date (YYYY-MM-DD) in Asia/Taipei, where the roster's dates are meant. */
export function taipeiDate(now: Date): string {
  // Taiwan has no daylight saving time: UTC+8 all year.
  return new Date(now.getTime() + 8 * 3_600_000).toISOString().slice(0, 10);
}

function idProblem(column: string, value: string): string | null {
  const c = checkIdNumber(value);
  if (c.ok) return null;
  return c.problem === 'format'
    ? `${column} is not a national ID or resident certificate number`
    : `${column} check digit is wrong`;
}

// A function of its own rather than a closure in checkRow: no function object made per row.
function field(fields: string[], header: Header, c: Column): string {
  return fields[header.index[c]]!.trim();
}

/** Checks one data row against the rules. `today` is YYYY-MM-DD (Asia/Taipei). */
export function checkRow(fields: string[], header: Header, today: string): RowResult {
  if (fields.length !== header.width) {
    return { ok: false, reason: `has ${fields.length} field${fields.length === 1 ? '' : 's'}, the header has ${header.width}` };
  }
  const nhi = field(fields, header, 'nhi_card_no');
  if (!isValidNhiCardNumber(nhi)) return { ok: false, reason: 'nhi_card_no must be 12 digits' };

  const id = field(fields, header, 'id_no');
  const idBad = idProblem('id_no', id);
  if (idBad) return { ok: false, reason: idBad };

  const birthDate = field(fields, header, 'birth_date');
  if (!isIsoDate(birthDate) || birthDate < MIN_BIRTH_DATE) return { ok: false, reason: 'birth_date is not a real date written YYYY-MM-DD' };
  if (birthDate > today) return { ok: false, reason: 'birth_date is in the future' };

  const g = field(fields, header, 'guardian_ids');
  const guardians = g === '' ? [] : g.split(';').map((s) => s.trim());
  if (guardians.length > MAX_GUARDIANS) return { ok: false, reason: `guardian_ids lists more than ${MAX_GUARDIANS} guardians` };
  for (let i = 0; i < guardians.length; i++) {
    const n = `guardian_ids #${i + 1}`;
    const gi = guardians[i]!;
    if (gi === '') return { ok: false, reason: `${n} is empty` };
    const bad = idProblem(n, gi);
    if (bad) return { ok: false, reason: bad };
    if (gi === id) return { ok: false, reason: `${n} is the beneficiary's own id_no` };
    const j = guardians.indexOf(gi);
    if (j < i) return { ok: false, reason: `${n} repeats guardian #${j + 1}` };
  }

  let amountTwd: number | null = null;
  if (header.index.amount !== undefined) {
    const a = field(fields, header, 'amount');
    if (a !== '') {
      amountTwd = parseWholeTwd(a);
      if (amountTwd === null) return { ok: false, reason: `amount must be a whole number of TWD from 1 to ${MAX_AMOUNT_TWD}` };
    }
  }
  return { ok: true, row: { nhi, id, birthDate, guardians, amountTwd } };
}
