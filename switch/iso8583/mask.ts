// Safe one-line descriptions for logs (partner-interface §8: logs never show a full NHI number, ID number
// or card number). Every field is shown except those: DE2 keeps at most its first 6 and last 4 digits,
// DE48's NH keeps its last 4, ID its first character, other DE48 tags show only their length, MACs are '<mac>'.

import { parseTlv } from './de48.ts';
import type { IsoMessage } from './message.ts';
import { BITMAP_BYTES, MAC_PRIMARY_FIELD, MAC_SECONDARY_FIELD, MTI_LENGTH } from './profile.ts';

const PAN = 2;
const DE48 = 48;
/** DE48 tags shown in clear: no personal data. */
const CLEAR_TAGS = new Set(['CP']);

/** e.g. `0200 2=412345******1234 3=010000 ... 48=[NH:********5678 ID:A********* CP:C2025]` */
export function describe(msg: IsoMessage): string {
  const parts = [printable(String(msg.mti))];
  const fields = msg.fields ?? {};
  for (const key of Object.keys(fields)) {
    const value = fields[Number(key)];
    parts.push(`${printable(key)}=${describeField(Number(key), value)}`);
  }
  return parts.join(' ');
}

function describeField(field: number, value: unknown): string {
  if (typeof value !== 'string') return `<${value === null ? 'null' : typeof value}>`;
  if (field === MAC_PRIMARY_FIELD || field === MAC_SECONDARY_FIELD) return '<mac>';
  if (field === PAN) return maskPan(value);
  if (field === DE48) return describeDe48(value);
  return JSON.stringify(value);
}

/** First 6 and last 4 digits at most, and never more than half of a short number. */
export function maskPan(pan: string): string {
  const head = pan.length >= 13 ? 6 : 0;
  const tail = pan.length >= 8 ? 4 : 0;
  return pan.slice(0, head) + '*'.repeat(pan.length - head - tail) + pan.slice(pan.length - tail);
}

function keep(value: string, head: number, tail: number): string {
  if (value.length <= head + tail) return '*'.repeat(value.length);
  return value.slice(0, head) + '*'.repeat(value.length - head - tail) + value.slice(value.length - tail);
}

function describeDe48(value: string): string {
  let tags: Map<string, string>;
  try {
    tags = parseTlv(value);
  } catch {
    return `<unparsable, ${value.length} chars>`;
  }
  const shown: string[] = [];
  for (const [tag, v] of tags) {
    if (tag === 'NH') shown.push(`NH:${keep(v, 0, 4)}`);
    else if (tag === 'ID') shown.push(`ID:${keep(v, 1, 0)}`);
    else if (CLEAR_TAGS.has(tag)) shown.push(`${tag}:${JSON.stringify(v)}`);
    else shown.push(`${tag}:<${v.length} chars>`);
  }
  return `[${shown.join(' ')}]`;
}

/** For a body that would not decode: its length and at most the MTI and bitmap bytes, never the fields. */
export function describeBytes(body: Buffer): string {
  const secondary = body.length > MTI_LENGTH && (body[MTI_LENGTH]! & 0x80) !== 0;
  const head = Math.min(body.length, MTI_LENGTH + BITMAP_BYTES * (secondary ? 2 : 1));
  return `${body.length} bytes, head ${body.toString('hex', 0, head)}`;
}

/** Keeps a log line on one line whatever a value holds. */
function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}
