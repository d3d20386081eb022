// The entitlement rules of partner-interface.md §5 and the check order of §7, as pure functions:
// roster entry + request facts + the ATM's local date → decision. No I/O here, so every rule is a table test.
import { strict as assert } from 'node:assert';
import type { Outcome } from '../handlers/outcomes.ts';

export type PayoutState = 'AVAILABLE' | 'RESERVED' | 'PAID';

export interface Payout {
  state: PayoutState;
  entitledMinor: number;
  paidMinor: number;
  reservedMinor: number;
}

/** What the roster and the ledger know about the beneficiary an NHI card number names, and its claimant. */
export interface RosterEntry {
  beneficiaryId: string;
  /** The card was replaced by a newer one. */
  superseded: boolean;
  /** The claimant's ID (its keyed hash) is the beneficiary's own. */
  isSelf: boolean;
  /** The claimant's ID is one of the beneficiary's registered guardians. */
  isGuardian: boolean;
  /** ISO date, YYYY-MM-DD. */
  birthDate: string;
  /**
   * Null when the roster came from the switch's in-memory copy, which holds no payout state: for a withdrawal the
   * Redis reservation and then the group commit decide 09 · 65 · 13 (an inquiry always reads PostgreSQL).
   */
  payout: Payout | null;
}

export const PROCESSING = { WITHDRAWAL: '010000', INQUIRY: '310000' } as const;
export const CURRENCY_TWD = '901';
export const PROXY_ONLY_BELOW_AGE = 7;
export const SELF_ONLY_FROM_AGE = 13;

/** What remains to be withdrawn: nothing while a withdrawal holds it or after it is paid. */
export function remainingMinor(p: Payout): number {
  return p.state === 'AVAILABLE' ? p.entitledMinor - p.paidMinor : 0;
}

export interface YMD {
  y: number;
  m: number;
  d: number;
}

const TAIPEI_OFFSET_MS = 8 * 3600_000;

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysIn(y: number, m: number): number {
  return [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
}

/**
 * The ATM's local date (DE13, MMDD) as a full date. The year is the one that puts the date nearest to today in
 * Asia/Taipei (taken from `now`), so 1231 seen on 1 January belongs to the year before, and 0101 seen on
 * 31 December to the year after. Null when no year around today has that date (0229 with no leap year near).
 */
export function atmLocalDate(mmdd: string, now: Date): YMD | null {
  if (!/^\d{4}$/.test(mmdd)) return null;
  const m = Number(mmdd.slice(0, 2));
  const d = Number(mmdd.slice(2));
  if (m < 1 || m > 12 || d < 1) return null;
  const taipei = new Date(now.getTime() + TAIPEI_OFFSET_MS);
  const today = Date.UTC(taipei.getUTCFullYear(), taipei.getUTCMonth(), taipei.getUTCDate());
  let best: YMD | null = null;
  let bestDistance = Infinity;
  for (const y of [taipei.getUTCFullYear() - 1, taipei.getUTCFullYear(), taipei.getUTCFullYear() + 1]) {
    if (d > daysIn(y, m)) continue;
    const distance = Math.abs(Date.UTC(y, m - 1, d) - today);
    if (distance < bestDistance) {
      best = { y, m, d };
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * Completed years on `on`. Someone born on 29 February completes a year on 28 February in common years
 * (the period ends on the last day of the month that lacks the day).
 */
export function ageOn(birthDate: string, on: YMD): number {
  const [by, bm, bd] = birthDate.split('-').map(Number) as [number, number, number];
  const birthdayThisYear = Math.min(bd, daysIn(on.y, bm));
  const hadBirthday = on.m > bm || (on.m === bm && on.d >= birthdayThisYear);
  return on.y - by - (hadBirthday ? 0 : 1);
}

/** Who may collect (§5): under 7 a guardian only; 7 to 12 either; 13 and over the beneficiary only. */
export function claimantOutcome(age: number, isSelf: boolean, isGuardian: boolean): Outcome | null {
  if (!isSelf && !isGuardian) return 'ID_MISMATCH';
  const selfAllowed = age >= PROXY_ONLY_BELOW_AGE;
  const proxyAllowed = age < SELF_ONLY_FROM_AGE;
  if ((isSelf && selfAllowed) || (isGuardian && proxyAllowed)) return null;
  return isSelf ? 'SELF_NOT_ALLOWED' : 'PROXY_NOT_ALLOWED';
}

/** The withdrawal-only checks, in order: reserved (09) · paid (65) · amount (13). */
export function entitlementOutcome(p: Payout, amountMinor: number): Outcome | null {
  if (p.state === 'RESERVED') return 'IN_PROGRESS';
  if (p.state === 'PAID') return 'ALREADY_COLLECTED';
  if (amountMinor !== remainingMinor(p)) return 'AMOUNT_MISMATCH';
  return null;
}

/** Everything the 0200 checks after "duplicate" look at (§7), gathered before deciding. */
export interface WithdrawalFacts {
  signedOnBank: string;
  /** DE32 */
  acquirer: string;
  /** A campaign is open and selected (DE48 CP, or the one open now). */
  campaignOpen: boolean;
  /** DE3 */
  processingCode: string;
  /** DE49 */
  currency: string;
  /** A reversal arrived for this 0200 before it did. */
  reversedEarlier: boolean;
  /** Null: the NHI number is not on the roster. */
  entry: RosterEntry | null;
  /** DE13 MMDD */
  atmDate: string;
  now: Date;
  /** DE4 */
  amountMinor: number;
}

export interface Decision {
  outcome: Outcome;
  inquiry: boolean;
  /** For an inquiry (DE54) and for the reservation. */
  remainingMinor: number;
}

/**
 * The §7 check order after "duplicate": DE32 (58) · open campaign (12) · processing code (12) · currency (13) ·
 * reversed earlier (12) · card (14) · claimant and age (57); then for a withdrawal reserved (09) · paid (65) ·
 * amount (13). APPROVED for a withdrawal means "may reserve": the reservation itself decides at last.
 */
export function decideWithdrawal(f: WithdrawalFacts): Decision {
  const inquiry = f.processingCode === PROCESSING.INQUIRY;
  const no = (outcome: Outcome): Decision => ({ outcome, inquiry, remainingMinor: 0 });
  if (f.acquirer !== f.signedOnBank) return no('NOT_PARTICIPATING');
  if (!f.campaignOpen) return no('CAMPAIGN_CLOSED');
  if (f.processingCode !== PROCESSING.WITHDRAWAL && !inquiry) return no('BAD_PROCESSING_CODE');
  if (f.currency !== CURRENCY_TWD) return no('CURRENCY');
  if (f.reversedEarlier) return no('REVERSED_EARLIER');
  const e = f.entry;
  if (!e) return no('UNKNOWN_CARD');
  if (e.superseded) return no('SUPERSEDED_CARD');
  const on = atmLocalDate(f.atmDate, f.now);
  if (!on) return no('FORMAT');
  const claimant = claimantOutcome(ageOn(e.birthDate, on), e.isSelf, e.isGuardian);
  if (claimant) return no(claimant);
  if (!e.payout) {
    assert(!inquiry, 'an inquiry is answered from the payout PostgreSQL holds');
    return { outcome: 'APPROVED', inquiry, remainingMinor: 0 };
  }
  const remaining = remainingMinor(e.payout);
  if (inquiry) return { outcome: 'APPROVED', inquiry, remainingMinor: remaining };
  const entitlement = entitlementOutcome(e.payout, f.amountMinor);
  if (entitlement) return no(entitlement);
  return { outcome: 'APPROVED', inquiry, remainingMinor: remaining };
}
