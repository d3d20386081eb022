// The bank's own cards, for its role as card issuer: card number, PIN, holder's ID number.
// The issuer check happens at the bank and nowhere else: the switch never sees a PIN (partner-interface.md §1).
import { readFileSync } from 'node:fs';
import { createHash, timingSafeEqual } from 'node:crypto';

export interface Card {
  card: string;
  pin: string;
  holderId: string;
}

/** What the issuer decides before anything goes to the switch. */
export type IssuerDecision = 'ok' | 'unknown_card' | 'wrong_pin' | 'not_holder';

export const CARD_NUMBER = /^\d{12,19}$/;
export const PIN = /^\d{4,12}$/;
export const MAX_CARDS = 1_000_000;
/** The shapes of partner-interface.md §3 (national ID, resident certificate, old style); the check digit is the switch's concern. */
export const ID_NUMBER_SHAPE = /^[A-Z][1289A-D]\d{8}$/;

export class CardFileError extends Error {}

export class CardFile {
  private readonly byNumber = new Map<string, Card>();

  constructor(cards: Iterable<Card> = []) {
    for (const c of cards) this.add(c);
  }

  add(c: Card, where = 'card'): void {
    if (!CARD_NUMBER.test(c.card)) throw new CardFileError(`${where}: card number must be 12 to 19 digits`);
    if (!PIN.test(c.pin)) throw new CardFileError(`${where}: PIN must be 4 to 12 digits`);
    if (!ID_NUMBER_SHAPE.test(c.holderId)) throw new CardFileError(`${where}: holder_id is not an ID number`);
    if (this.byNumber.size >= MAX_CARDS) throw new CardFileError(`${where}: more than ${MAX_CARDS} cards`);
    this.byNumber.set(c.card, c);
  }

  get size(): number {
    return this.byNumber.size;
  }

  has(card: string): boolean {
    return this.byNumber.has(card);
  }

  /** Unknown card first, then the PIN, then the holder: a wrong PIN says nothing about the holder. */
  verify(card: string, pin: string, claimantId: string): IssuerDecision {
    const c = this.byNumber.get(card);
    if (!c) return 'unknown_card';
    if (!sameSecret(c.pin, pin)) return 'wrong_pin';
    if (c.holderId !== claimantId) return 'not_holder';
    return 'ok';
  }

  /**
   * JSON: an array of {card, pin, holder_id}. CSV: a header `card,pin,holder_id`, then one card a line.
   * A bad row names its line (CSV) or index (JSON) and the whole file is refused: an issuer does not half-load.
   */
  static parse(text: string, name = 'cards'): CardFile {
    const file = new CardFile();
    const trimmed = text.trimStart();
    if (trimmed.startsWith('[')) {
      let rows: unknown;
      try {
        rows = JSON.parse(trimmed);
      } catch (e) {
        throw new CardFileError(`${name}: not valid JSON (${(e as Error).message})`);
      }
      if (!Array.isArray(rows)) throw new CardFileError(`${name}: expected an array of cards`);
      rows.forEach((r, i) => {
        const o = (r ?? {}) as Record<string, unknown>;
        file.add({ card: String(o.card ?? ''), pin: String(o.pin ?? ''), holderId: String(o.holder_id ?? o.holderId ?? '') }, `${name}[${i}]`);
      });
      return file;
    }
    const lines = text.split(/\r?\n/);
    const header = (lines[0] ?? '').trim().split(',').map((h) => h.trim());
    const at = (h: string) => header.indexOf(h);
    if (at('card') < 0 || at('pin') < 0 || at('holder_id') < 0) {
      throw new CardFileError(`${name}: line 1: header must name card, pin, holder_id`);
    }
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (!line) continue;
      const cols = line.split(',').map((c) => c.trim());
      file.add({ card: cols[at('card')] ?? '', pin: cols[at('pin')] ?? '', holderId: cols[at('holder_id')] ?? '' }, `${name}: line ${i + 1}`);
    }
    return file;
  }

  static load(path: string): CardFile {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new CardFileError(`cannot read card file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return CardFile.parse(text, path);
  }

  toJSON(): Array<{ card: string; pin: string; holder_id: string }> {
    return [...this.byNumber.values()].map((c) => ({ card: c.card, pin: c.pin, holder_id: c.holderId }));
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Luhn check digit for the digits given. */
export function luhnDigit(digits: string): string {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

/**
 * A made-up card for a holder, the same every time for the same (bank, holder): lets a load run and the bank it
 * drives agree on cards without sharing a file (`sim:atm cards` writes the bank's card file from a roster).
 */
export function syntheticCard(bankCode: string, holderId: string): Card {
  const h = createHash('sha256').update(`sim-card/${bankCode}/${holderId}`).digest();
  let digits = '';
  for (let i = 0; digits.length < 11; i++) digits += String(h[i]! % 10);
  const body = '4' + bankCode.padStart(3, '0').slice(-3) + digits;
  const pin = String(h.readUInt32BE(20) % 10_000).padStart(4, '0');
  return { card: body + luhnDigit(body), pin, holderId };
}
