// Strict, table-driven ISO 8583 codec for the profile in profile.ts (partner-interface §3).
// `decode` takes a body (the frame without its 2-byte length) and either returns every field exactly as sent
// or throws a CodecError; `encode` checks the same rules, so a bad value is an error, never a corrupt frame.
//
// Decisions:
// - Values are carried exactly as on the wire. Decode never trims; encode never pads or cuts: a fixed field
//   must have exactly its length (n and an/ans alike). Callers that hold a shorter value use padFixed(), which
//   pads as §3 says (n: left with '0'; an/ans: right with spaces). So decode(encode(m)) equals m, and
//   encode(decode(b)) equals b for every body without an all-zero secondary bitmap.
// - A secondary bitmap is written only when a field above 64 is present. One of all zeros is accepted on
//   decode (§3); hasSecondaryBitmap() tells whether a body had one (the MAC position depends on it).
// - A field key present with a value that is not a string is an error ('missing_value'), not an omission.
// - `b` fields are lowercase hex of exactly their length; anything else is 'bad_hex'.
//
// decode is the hot path: one pass over the body, bitmap bits walked with clz32, no intermediate copies.

import { CodecError } from './errors.ts';
import type { FieldValues, IsoMessage } from './message.ts';
import { BITMAP_BYTES, FIELD_SPECS, MTI_LENGTH, PREFIXERS, SECONDARY_BITMAP_FIELD, type FieldFormat } from './profile.ts';
import type { Prefixer } from './prefix/prefixer.ts';

// Re-exported so a caller of decode can catch its error from the same module.
export { CodecError };

const N = 0;
const AN = 1; // an and ans: the same byte rule (printable ASCII)
const B = 2;

interface Compiled {
  readonly fmt: number;
  readonly length: number;
  readonly prefixer: Prefixer;
}

const FORMAT_CODE: Record<FieldFormat, number> = { n: N, an: AN, ans: AN, b: B };

/** Data elements by number; undefined for DE1 and everything outside the profile. */
const COMPILED: readonly (Compiled | undefined)[] = FIELD_SPECS.map((spec) =>
  spec && spec.field !== SECONDARY_BITMAP_FIELD
    ? { fmt: FORMAT_CODE[spec.format], length: spec.length, prefixer: PREFIXERS[spec.prefix] }
    : undefined,
);

const HEADER_BYTES = MTI_LENGTH + BITMAP_BYTES;
const SECONDARY_BIT = 0x80000000;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isPrintable(c: number): boolean {
  return c >= 0x20 && c <= 0x7e;
}

function isLowerHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);
}

const SHORT_FIELD_BYTES = 12;
const fromCharCode = String.fromCharCode;

/** The bytes as a string (already checked to be ASCII). Short values are built in JS: cheaper than a call into C++. */
function ascii(body: Buffer, start: number, end: number): string {
  if (end - start > SHORT_FIELD_BYTES) return body.toString('latin1', start, end);
  let s = '';
  for (let i = start; i < end; i++) s += fromCharCode(body[i]!);
  return s;
}

/** True when the body's primary bitmap announces a secondary bitmap (even one of all zeros). */
export function hasSecondaryBitmap(body: Buffer): boolean {
  return body.length > MTI_LENGTH && (body[MTI_LENGTH]! & 0x80) !== 0;
}

export function decode(body: Buffer): IsoMessage {
  const end = body.length;
  if (end < MTI_LENGTH) throw new CodecError('mti', 'truncated', `body has ${end} bytes`);
  for (let i = 0; i < MTI_LENGTH; i++) {
    if (!isDigit(body[i]!)) throw new CodecError('mti', 'bad_mti', `byte ${i + 1} is not a digit`);
  }
  const mti = body.toString('latin1', 0, MTI_LENGTH);
  if (end < HEADER_BYTES) throw new CodecError('bitmap', 'truncated', `body has ${end} bytes`);
  const p1 = body.readUInt32BE(MTI_LENGTH);
  const p2 = body.readUInt32BE(MTI_LENGTH + 4);
  let offset = HEADER_BYTES;
  let s1 = 0;
  let s2 = 0;
  if ((p1 & SECONDARY_BIT) !== 0) {
    if (end < HEADER_BYTES + BITMAP_BYTES) throw new CodecError('bitmap', 'truncated', 'secondary bitmap announced but missing');
    s1 = body.readUInt32BE(HEADER_BYTES);
    s2 = body.readUInt32BE(HEADER_BYTES + 4);
    offset += BITMAP_BYTES;
  }
  const fields: FieldValues = {};
  try {
    offset = decodeWord(body, p1 & ~SECONDARY_BIT, 0, offset, end, fields);
    offset = decodeWord(body, p2, 32, offset, end, fields);
    if (s1 !== 0) offset = decodeWord(body, s1, 64, offset, end, fields);
    if (s2 !== 0) offset = decodeWord(body, s2, 96, offset, end, fields);
    if (offset !== end) throw new CodecError('frame', 'trailing_bytes', `${end - offset} bytes after the last field`);
  } catch (err) {
    if (err instanceof CodecError) {
      err.mti = mti;
      err.partial = fields;
    }
    throw err;
  }
  return { mti, fields };
}

/** Decodes the fields of one 32-bit bitmap word (bits base+1 .. base+32), in ascending order. */
function decodeWord(body: Buffer, word: number, base: number, offset: number, end: number, fields: FieldValues): number {
  while (word !== 0) {
    const bit = Math.clz32(word);
    word ^= SECONDARY_BIT >>> bit;
    const field = base + bit + 1;
    const spec = COMPILED[field];
    if (spec === undefined) throw new CodecError(field, 'field_not_in_profile', 'named by the bitmap');
    const length = spec.prefixer.decodeLength(field, spec.length, body, offset, end);
    const start = offset + spec.prefixer.bytes;
    offset = start + length;
    if (spec.fmt === B) {
      fields[field] = body.toString('hex', start, offset);
      continue;
    }
    if (spec.fmt === N) {
      for (let i = start; i < offset; i++) {
        if (!isDigit(body[i]!)) throw new CodecError(field, 'non_digit', `position ${i - start + 1} of ${length}`);
      }
    } else {
      for (let i = start; i < offset; i++) {
        if (!isPrintable(body[i]!)) throw new CodecError(field, 'non_printable', `byte 0x${body[i]!.toString(16).padStart(2, '0')} at position ${i - start + 1} of ${length}`);
      }
    }
    fields[field] = ascii(body, start, offset);
  }
  return offset;
}

/** A field number as an object key: canonical decimal, so keys come out of Object.keys in ascending order. */
const FIELD_KEY = /^[1-9][0-9]{0,2}$/;

export function encode(msg: IsoMessage): Buffer {
  const mti = msg.mti;
  if (typeof mti !== 'string' || mti.length !== MTI_LENGTH || !allChars(mti, isDigit)) {
    throw new CodecError('mti', 'bad_mti', 'must be 4 ASCII digits');
  }
  const values = msg.fields;
  // Canonical integer keys come out of Object.keys in ascending order: the order fields go on the wire.
  const keys = Object.keys(values);
  const numbers: number[] = new Array(keys.length);
  let size = HEADER_BYTES;
  let bitmaps = 1;
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!;
    if (!FIELD_KEY.test(key)) throw new CodecError('frame', 'field_not_in_profile', `key ${JSON.stringify(key.slice(0, 16))} is not a field number`);
    const field = +key;
    const spec = COMPILED[field];
    if (spec === undefined) {
      throw new CodecError(field, 'field_not_in_profile', field === SECONDARY_BITMAP_FIELD ? 'DE1 is the secondary bitmap, written by the codec' : 'not a data element of the profile');
    }
    const value = values[field];
    if (typeof value !== 'string') throw new CodecError(field, 'missing_value', `value is ${value === null ? 'null' : typeof value}`);
    const dataLength = checkValue(field, spec, value);
    spec.prefixer.checkLength(field, spec.length, dataLength);
    size += spec.prefixer.bytes + dataLength;
    numbers[k] = field;
    if (field > 64) bitmaps = 2;
  }
  size += (bitmaps - 1) * BITMAP_BYTES;

  const buf = Buffer.allocUnsafe(size);
  buf.write(mti, 0, 'latin1');
  const words = [bitmaps === 2 ? SECONDARY_BIT : 0, 0, 0, 0];
  let offset = MTI_LENGTH + bitmaps * BITMAP_BYTES;
  for (const field of numbers) {
    const spec = COMPILED[field]!;
    const value = values[field]!;
    words[(field - 1) >>> 5]! |= SECONDARY_BIT >>> ((field - 1) & 31);
    if (spec.fmt === B) {
      offset = spec.prefixer.writeLength(value.length >>> 1, buf, offset);
      offset += buf.write(value, offset, 'hex');
    } else {
      offset = spec.prefixer.writeLength(value.length, buf, offset);
      offset += buf.write(value, offset, 'latin1');
    }
  }
  for (let w = 0; w < bitmaps * 2; w++) buf.writeUInt32BE(words[w]! >>> 0, MTI_LENGTH + w * 4);
  return buf;
}

/** Checks a value's characters against its format; returns its length in wire bytes. */
function checkValue(field: number, spec: Compiled, value: string): number {
  const len = value.length;
  if (spec.fmt === B) {
    if (len % 2 !== 0 || !allChars(value, isLowerHex)) throw new CodecError(field, 'bad_hex', 'must be lowercase hex');
    return len >>> 1;
  }
  const ok = spec.fmt === N ? isDigit : isPrintable;
  for (let i = 0; i < len; i++) {
    if (!ok(value.charCodeAt(i))) throw new CodecError(field, spec.fmt === N ? 'non_digit' : 'non_printable', `position ${i + 1} of ${len}`);
  }
  return len;
}

function allChars(s: string, ok: (c: number) => boolean): boolean {
  for (let i = 0; i < s.length; i++) if (!ok(s.charCodeAt(i))) return false;
  return true;
}

/**
 * Pads a value shorter than its fixed field as §3 says: `n` left with '0', `an`/`ans` right with spaces.
 * Longer values and variable or binary fields are returned unchanged (encode judges them).
 */
export function padFixed(field: number, value: string): string {
  const spec = FIELD_SPECS[field];
  if (!spec || spec.prefix !== 'fixed' || value.length >= spec.length) return value;
  if (spec.format === 'n') return value.padStart(spec.length, '0');
  if (spec.format === 'an' || spec.format === 'ans') return value.padEnd(spec.length, ' ');
  return value;
}
