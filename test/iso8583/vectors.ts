// Golden messages for the iso8583 tests and the benchmark: the shared loader plus per-message helpers.
import type { IsoMessage } from '../../switch/iso8583/message.ts';
import { GOLDEN, GOLDEN_MAC_KEY, VECTORS_PATH, golden, goldenBody, goldenFrame, type Golden } from '../helpers/golden.ts';

export { GOLDEN, GOLDEN_MAC_KEY, VECTORS_PATH, golden, goldenBody, goldenFrame, type Golden };

/** The frame's bytes, 2-byte length prefix included. */
export function frameOf(g: Golden): Buffer {
  return Buffer.from(g.frame_hex, 'hex');
}

/** The body: the frame without its 2-byte length prefix. */
export function bodyOf(g: Golden): Buffer {
  return frameOf(g).subarray(2);
}

/** A fresh copy of the golden message, safe to modify. */
export function messageOf(g: Golden): IsoMessage {
  return { mti: g.mti, fields: { ...g.fields } };
}
