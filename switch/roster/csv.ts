// Streaming CSV for roster files: lines out of a byte stream with their line numbers, and one line into fields.
// Enough of RFC 4180 for a roster: quoted fields with "" escapes, CRLF or LF, a UTF-8 BOM; no newlines inside quotes
// (no roster field can contain one). Memory is bounded by MAX_LINE_CHARS, whatever the file.
import { StringDecoder } from 'node:string_decoder';

/** A longer line is rejected on its own (its text is dropped), and reading goes on with the next line. */
export const MAX_LINE_CHARS = 4096;

export interface Line {
  /** 1-based physical line number in the file. */
  no: number;
  /** The line without its line ending; null when it was longer than MAX_LINE_CHARS. */
  text: string | null;
}

/**
 * Yields the lines of a byte stream in arrays (one per chunk read, to keep per-line overhead low).
 * Backpressure is natural: the stream is not read further while the consumer is busy with a batch.
 */
export async function* readLines(input: AsyncIterable<Buffer | string>, maxLineChars = MAX_LINE_CHARS): AsyncGenerator<Line[]> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let skipping = false; // inside a line that is already too long: drop text up to its end
  let no = 0;
  let first = true;
  const take = (text: string): string => {
    if (first) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    return text.endsWith('\r') ? text.slice(0, -1) : text;
  };
  const consume = function (chunk: string, out: Line[]) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl < 0) break;
      no++;
      if (skipping) {
        out.push({ no, text: null });
        skipping = false;
      } else {
        const text = pending + chunk.slice(start, nl);
        pending = '';
        out.push({ no, text: text.length > maxLineChars + 1 ? null : take(text) });
      }
      start = nl + 1;
    }
    if (!skipping) {
      pending += chunk.slice(start);
      if (pending.length > maxLineChars + 1) {
        skipping = true;
        pending = '';
      }
    }
  };
  for await (const chunk of input) {
    const out: Line[] = [];
    consume(typeof chunk === 'string' ? chunk : decoder.write(chunk), out);
    if (out.length) yield out;
  }
  const out: Line[] = [];
  consume(decoder.end(), out);
  if (skipping) out.push({ no: ++no, text: null });
  else if (pending.length) out.push({ no: ++no, text: take(pending) });
  if (out.length) yield out;
}

/** The fields of one CSV line, or null when its quoting is broken. */
export function splitCsvLine(line: string): string[] | null {
  if (!line.includes('"')) return line.split(',');
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return null; // unterminated quote
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      fields.push(value);
      if (i === line.length) return fields;
      if (line[i] !== ',') return null; // text after a closing quote
      i++;
    } else {
      const c = line.indexOf(',', i);
      const value = c < 0 ? line.slice(i) : line.slice(i, c);
      if (value.includes('"')) return null; // a quote inside an unquoted field
      fields.push(value);
      if (c < 0) return fields;
      i = c + 1;
    }
  }
}
