// The people a load run draws from: the roster file of operations.md, read for the simulator's needs only (the
// ATMs need the clear NHI and ID numbers a citizen would type). Who collects follows §5's age rule, so a run
// exercises self and proxy collection as the roster allows.
import { readFileSync } from 'node:fs';

export interface Person {
  nhi: string;
  id: string;
  /** ISO date. */
  birthDate: string;
  guardians: string[];
  /** Whole TWD, when the row overrides the campaign's amount. */
  amountTwd: number | null;
}

export const MAX_PEOPLE = 1_000_000;

export class RosterFileError extends Error {}

/** Rows that do not parse are skipped and named in `skipped` (the switch's import is the judge of validity). */
export function parseRoster(text: string, name = 'roster'): { people: Person[]; skipped: string[] } {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').replace(/^\uFEFF/, '').trim().split(',').map((h) => h.trim());
  const col = (h: string) => header.indexOf(h);
  for (const h of ['nhi_card_no', 'id_no', 'birth_date']) {
    if (col(h) < 0) throw new RosterFileError(`${name}: line 1: header must name nhi_card_no, id_no, birth_date (missing ${h})`);
  }
  const people: Person[] = [];
  const skipped: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    if (people.length >= MAX_PEOPLE) throw new RosterFileError(`${name}: more than ${MAX_PEOPLE} rows`);
    const cells = line.split(',').map((c) => c.trim());
    const nhi = cells[col('nhi_card_no')] ?? '';
    const id = cells[col('id_no')] ?? '';
    const birthDate = cells[col('birth_date')] ?? '';
    const guardians = (col('guardian_ids') >= 0 ? (cells[col('guardian_ids')] ?? '') : '').split(';').map((g) => g.trim()).filter(Boolean);
    const amountCell = col('amount') >= 0 ? (cells[col('amount')] ?? '') : '';
    if (!/^\d{12}$/.test(nhi)) skipped.push(`line ${i + 1}: nhi_card_no is not 12 digits`);
    else if (!/^[A-Z][1289A-D]\d{8}$/.test(id)) skipped.push(`line ${i + 1}: id_no is not an ID number`);
    else if (!/^\d{4}-\d{2}-\d{2}$/.test(birthDate)) skipped.push(`line ${i + 1}: birth_date is not an ISO date`);
    else if (amountCell !== '' && !/^\d+$/.test(amountCell)) skipped.push(`line ${i + 1}: amount is not whole TWD`);
    else people.push({ nhi, id, birthDate, guardians, amountTwd: amountCell === '' ? null : Number(amountCell) });
  }
  return { people, skipped };
}

export function loadRoster(path: string): { people: Person[]; skipped: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RosterFileError(`cannot read roster ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseRoster(text, path);
}

/** Full years on `localDate` (YYYY-MM-DD, the ATM's date in Asia/Taipei). */
export function ageOn(birthDate: string, localDate: string): number {
  const [by, bm, bd] = birthDate.split('-').map(Number) as [number, number, number];
  const [y, m, d] = localDate.split('-').map(Number) as [number, number, number];
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}

/** Under 7: the first guardian (proxy only); 7 and over: the beneficiary (self is allowed from 7, required from 13). */
export function claimantFor(p: Person, localDate: string): string {
  if (ageOn(p.birthDate, localDate) < 7) return p.guardians[0] ?? p.id;
  return p.id;
}

/** The ATM's local date, YYYY-MM-DD in Asia/Taipei. */
export function taipeiDate(now: Date): string {
  return new Date(now.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
}
