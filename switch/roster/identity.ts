// Taiwanese identity numbers: validation with check digits, and seeded synthetic numbers for simulators and demos.
//
// A national ID `[A-Z][12]\d{8}`, a new-style resident certificate (統一證號, since 2021) `[A-Z][89]\d{8}` and an
// old-style one `[A-Z][A-D]\d{8}` share one check: the first letter becomes two digits by LETTER_VALUE; for the old
// style the second letter becomes the units digit of its LETTER_VALUE; the eleven digits are weighted
// 1,9,8,7,6,5,4,3,2,1,1 and the sum must be a multiple of 10.
// These functions take the canonical form (upper case, no spaces): that is what arrives in DE48 and what is hashed.

export type IdKind = 'national' | 'resident' | 'resident-old';

export const ID_KINDS: readonly IdKind[] = ['national', 'resident', 'resident-old'];

const LETTER_VALUE: Readonly<Record<string, number>> = {
  A: 10, B: 11, C: 12, D: 13, E: 14, F: 15, G: 16, H: 17, I: 34, J: 18, K: 19, L: 20, M: 21,
  N: 22, O: 35, P: 23, Q: 24, R: 25, S: 26, T: 27, U: 28, V: 29, W: 32, X: 30, Y: 31, Z: 33,
};
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const WEIGHTS = [1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1] as const;

export type IdCheck = { ok: true; kind: IdKind } | { ok: false; problem: 'format' | 'check-digit' };

/** The weighted sum of the first 9 characters (without the check digit), modulo 10. */
function partialSum(s: string): number {
  const first = LETTER_VALUE[s[0]!]!;
  const c1 = s.charCodeAt(1);
  // Old style: the second character is a letter; only the units digit of its value counts.
  const second = c1 >= 65 ? LETTER_VALUE[s[1]!]! % 10 : c1 - 48;
  let sum = Math.floor(first / 10) * WEIGHTS[0] + (first % 10) * WEIGHTS[1] + second * WEIGHTS[2];
  for (let i = 2; i < 9; i++) sum += (s.charCodeAt(i) - 48) * WEIGHTS[i + 1]!;
  return sum % 10;
}

/** The kind of number `s` is written as (the three forms above), by its characters: no regular expression per number checked. */
function idFormat(s: string): IdKind | null {
  if (s.length !== 10) return null;
  const c0 = s.charCodeAt(0);
  if (c0 < 65 || c0 > 90) return null; // A-Z
  for (let i = 2; i < 10; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return null;
  }
  const c1 = s.charCodeAt(1);
  if (c1 === 49 || c1 === 50) return 'national'; // 1, 2
  if (c1 === 56 || c1 === 57) return 'resident'; // 8, 9
  if (c1 >= 65 && c1 <= 68) return 'resident-old'; // A-D
  return null;
}

/** Says which kind of number `s` is, or why it is not one. */
export function checkIdNumber(s: string): IdCheck {
  const kind = idFormat(s);
  if (!kind) return { ok: false, problem: 'format' };
  return (partialSum(s) + (s.charCodeAt(9) - 48)) % 10 === 0 ? { ok: true, kind } : { ok: false, problem: 'check-digit' };
}

export function isValidIdNumber(s: string): boolean {
  return checkIdNumber(s).ok;
}

/** The check digit that completes a 9-character prefix (letter, then a digit or an A-D letter, then 7 digits). */
export function idCheckDigit(prefix: string): string {
  if (!/^[A-Z]([0-9]|[A-D])[0-9]{7}$/.test(prefix)) throw new Error('an ID prefix is a letter, a digit or A-D, then 7 digits');
  return String((10 - partialSum(prefix)) % 10);
}

/** The beneficiary's NHI card number: 12 digits. The card carries no public check digit, so the format is all there is. */
export function isValidNhiCardNumber(s: string): boolean {
  if (s.length !== 12) return false;
  for (let i = 0; i < 12; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

// ---- synthetic numbers -------------------------------------------------------------------------------------------

/** A small, fast, seeded PRNG (mulberry32): the same seed gives the same sequence on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SECOND: Record<IdKind, string> = { national: '12', resident: '89', 'resident-old': 'ABCD' };
/** How many distinct numbers each kind has: 26 letters x second characters x 10^7 serials. */
const SPACE: Record<IdKind, bigint> = { national: 520_000_000n, resident: 520_000_000n, 'resident-old': 1_040_000_000n };
const NHI_SPACE = 1_000_000_000_000n;

function gcd(a: bigint, b: bigint): bigint {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** A seeded bijection on [0, n): i -> (m*i + c) mod n with m coprime to n. Unique outputs that look random. */
function permutation(n: bigint, seed: number, salt: number): (i: number) => bigint {
  const rnd = seededRandom((seed ^ Math.imul(salt, 0x9e3779b1)) >>> 0);
  let m = (BigInt(Math.floor(rnd() * 2 ** 32)) * 2_654_435_761n + 1n) % n;
  while (m < 2n || gcd(m, n) !== 1n) m = (m + 1n) % n;
  const c = BigInt(Math.floor(rnd() * 2 ** 32)) % n;
  return (i) => (m * BigInt(i) + c) % n;
}

function idFromSlot(kind: IdKind, slot: bigint): string {
  const seconds = SECOND[kind];
  const letter = LETTERS[Number(slot % 26n)]!;
  const rest = slot / 26n;
  const second = seconds[Number(rest % BigInt(seconds.length))]!;
  const serial = String(rest / BigInt(seconds.length)).padStart(7, '0');
  const prefix = letter + second + serial;
  return prefix + idCheckDigit(prefix);
}

/**
 * A generator of synthetic identities: the same seed and index always give the same number, and different indexes
 * give different numbers (for index below 520 million), so a simulator can rebuild in clear the roster a demo imported.
 */
export function syntheticIdentities(seed: number) {
  const perms = {
    national: permutation(SPACE.national, seed, 1),
    resident: permutation(SPACE.resident, seed, 2),
    'resident-old': permutation(SPACE['resident-old'], seed, 3),
  };
  const nhi = permutation(NHI_SPACE, seed, 4);
  const check = (index: number) => {
    if (!Number.isSafeInteger(index) || index < 0 || index >= 520_000_000) throw new RangeError('index must be 0 to 519,999,999');
  };
  return {
    /** The index-th ID number of the given kind. */
    idNumber(index: number, kind: IdKind = 'national'): string {
      check(index);
      return idFromSlot(kind, perms[kind](index));
    },
    /** The index-th NHI card number (12 digits). Unique per index. */
    nhiCardNumber(index: number): string {
      check(index);
      return String(nhi(index)).padStart(12, '0');
    },
  };
}

/** One random valid ID number (not unique: use syntheticIdentities for a roster). */
export function randomIdNumber(rng: () => number, kind: IdKind = 'national'): string {
  return idFromSlot(kind, BigInt(Math.floor(rng() * Number(SPACE[kind]))));
}

/** One random NHI card number. */
export function randomNhiCardNumber(rng: () => number): string {
  let s = '';
  for (let i = 0; i < 12; i++) s += Math.floor(rng() * 10);
  return s;
}
