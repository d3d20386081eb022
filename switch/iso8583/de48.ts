// DE48 entitlement data (partner-interface §3): a run of tag-length-value entries, each a 2-letter tag
// (A-Z), a 3-digit length, then that many characters, e.g. NH012000012345678ID010A123456789.
// Unknown tags are kept in the map; callers read the tags they know and ignore the rest.

import { CodecError } from './errors.ts';

const DE48 = 48;
const TAG = /^[A-Z]{2}$/;
const TAG_BYTES = 2;
const LENGTH_DIGITS = 3;
const MAX_VALUE_LENGTH = 999;

/** Throws CodecError (field 48, reason 'bad_tlv') on anything malformed, naming the position, never the content. */
export function parseTlv(value: string): Map<string, string> {
  const entries = new Map<string, string>();
  let i = 0;
  while (i < value.length) {
    if (value.length - i < TAG_BYTES + LENGTH_DIGITS) throw bad(`entry at position ${i + 1} is cut short`);
    const tag = value.slice(i, i + TAG_BYTES);
    if (!TAG.test(tag)) throw bad(`tag at position ${i + 1} is not 2 letters A-Z`);
    const digits = value.slice(i + TAG_BYTES, i + TAG_BYTES + LENGTH_DIGITS);
    if (!/^\d{3}$/.test(digits)) throw bad(`length of ${tag} is not 3 digits`);
    const length = Number(digits);
    const start = i + TAG_BYTES + LENGTH_DIGITS;
    if (start + length > value.length) throw bad(`${tag} announces ${length} characters, ${value.length - start} left`);
    // A repeated tag would let two readers see two different values: refuse it.
    if (entries.has(tag)) throw bad(`${tag} appears twice`);
    entries.set(tag, value.slice(start, start + length));
    i = start + length;
  }
  return entries;
}

/** Builds the DE48 value; entries keep their order. Throws CodecError 'bad_tlv' for a bad tag or a value over 999. */
export function buildTlv(entries: Iterable<readonly [string, string]> | Readonly<Record<string, string>>): string {
  const list = Symbol.iterator in entries ? [...(entries as Iterable<readonly [string, string]>)] : Object.entries(entries);
  const seen = new Set<string>();
  let out = '';
  for (const [tag, value] of list) {
    if (!TAG.test(tag)) throw bad(`tag ${JSON.stringify(tag.slice(0, 4))} is not 2 letters A-Z`);
    if (seen.has(tag)) throw bad(`${tag} appears twice`);
    if (value.length > MAX_VALUE_LENGTH) throw bad(`${tag} value of ${value.length} characters exceeds ${MAX_VALUE_LENGTH}`);
    seen.add(tag);
    out += tag + String(value.length).padStart(LENGTH_DIGITS, '0') + value;
  }
  return out;
}

function bad(detail: string): CodecError {
  return new CodecError(DE48, 'bad_tlv', detail);
}
