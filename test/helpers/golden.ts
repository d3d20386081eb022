// The golden messages of ../shared/spec/vectors (a copy of shared/ sits beside the clone in CI as here).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export interface Golden {
  name: string;
  note: string;
  mti: string;
  fields: Record<string, string>;
  binary_fields: string[];
  frame_hex: string;
}

export const VECTORS_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/spec/vectors/messages.json');
export const GOLDEN: Golden[] = JSON.parse(readFileSync(VECTORS_PATH, 'utf8'));
export const GOLDEN_MAC_KEY = Buffer.from('2b7e151628aed2a6abf7158809cf4f3c', 'hex');

export function golden(name: string): Golden {
  const g = GOLDEN.find((m) => m.name === name);
  if (!g) throw new Error(`no golden message ${name}`);
  return g;
}

/** The frame bytes on the wire, 2-byte length prefix included. */
export function goldenFrame(name: string): Buffer {
  return Buffer.from(golden(name).frame_hex, 'hex');
}

/** The message body without the length prefix. */
export function goldenBody(name: string): Buffer {
  return goldenFrame(name).subarray(2);
}
