// Message authentication (partner-interface §8): the first 8 bytes of AES-CMAC (RFC 4493, AES-128) over the
// whole body from the MTI up to, not including, the MAC's own 8 bytes. The MAC is DE64 without a secondary
// bitmap and DE128 with one; being the highest field of its bitmap, it is always the body's last 8 bytes.

import { createCipheriv, timingSafeEqual } from 'node:crypto';
import { encode } from './codec.ts';
import type { IsoMessage } from './message.ts';
import { BITMAP_BYTES, MAC_PRIMARY_FIELD, MAC_SECONDARY_FIELD, MTI_LENGTH } from './profile.ts';

export const MAC_BYTES = 8;
const BLOCK = 16;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
const RB = 0x87; // RFC 4493 §2.3: the constant for 128-bit blocks

function checkKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== 16) throw new TypeError('MAC key must be 16 bytes (AES-128)');
}

/** Doubling in GF(2^128) (RFC 4493 §2.3): shift left one bit, xor Rb when the top bit fell off. */
function double(block: Buffer): Buffer {
  const out = Buffer.allocUnsafe(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = ((block[i]! << 1) | (i + 1 < BLOCK ? block[i + 1]! >>> 7 : 0)) & 0xff;
  if (block[0]! & 0x80) out[BLOCK - 1]! ^= RB;
  return out;
}

/** AES-CMAC (RFC 4493), the full 16-byte tag. */
export function aesCmac(key: Buffer, message: Buffer): Buffer {
  checkKey(key);
  const ecb = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
  const k1 = double(ecb.update(ZERO_BLOCK));
  const k2 = double(k1);
  const blocks = Math.max(1, Math.ceil(message.length / BLOCK));
  const complete = message.length > 0 && message.length % BLOCK === 0;
  // The last block, xored with K1 when complete, padded 10* and xored with K2 when not.
  const last = Buffer.alloc(BLOCK);
  const lastStart = (blocks - 1) * BLOCK;
  message.copy(last, 0, lastStart);
  if (!complete) last[message.length - lastStart] = 0x80;
  const sub = complete ? k1 : k2;
  for (let i = 0; i < BLOCK; i++) last[i]! ^= sub[i]!;
  // CBC-MAC with a zero IV: the tag is the last ciphertext block.
  const cbc = createCipheriv('aes-128-cbc', key, ZERO_BLOCK).setAutoPadding(false);
  if (lastStart > 0) cbc.update(message.subarray(0, lastStart));
  return cbc.update(last);
}

/** The MAC field's value: the first 8 bytes of AES-CMAC over `bytesBeforeMac`. */
export function macFor(key: Buffer, bytesBeforeMac: Buffer): Buffer {
  return aesCmac(key, bytesBeforeMac).subarray(0, MAC_BYTES);
}

/** Encodes `msg` with its MAC: DE128 when any field above 64 is present, else DE64. An existing MAC field is replaced. */
export function signMessage(msg: IsoMessage, key: Buffer): Buffer {
  checkKey(key);
  const fields = { ...msg.fields };
  delete fields[MAC_PRIMARY_FIELD];
  delete fields[MAC_SECONDARY_FIELD];
  const secondary = Object.keys(fields).some((k) => Number(k) > 64);
  fields[secondary ? MAC_SECONDARY_FIELD : MAC_PRIMARY_FIELD] = '00'.repeat(MAC_BYTES);
  const body = encode({ mti: msg.mti, fields });
  const macStart = body.length - MAC_BYTES;
  macFor(key, body.subarray(0, macStart)).copy(body, macStart);
  return body;
}

/**
 * Checks a received body's MAC on its raw bytes, without decoding it. 'missing' when the bitmap does not
 * carry the MAC in the right place (DE64 without a secondary bitmap, DE128 with one), 'wrong' when it does
 * but the bytes do not match (including a body too short to hold one).
 */
export function verifyMac(body: Buffer, key: Buffer): 'ok' | 'missing' | 'wrong' {
  checkKey(key);
  const primaryEnd = MTI_LENGTH + BITMAP_BYTES;
  if (body.length < primaryEnd) return 'missing';
  const secondary = (body[MTI_LENGTH]! & 0x80) !== 0;
  const bitmapEnd = secondary ? primaryEnd + BITMAP_BYTES : primaryEnd;
  if (body.length < bitmapEnd) return 'missing';
  // The MAC bit is the last bit of the last bitmap: bit 64 or bit 128.
  if ((body[bitmapEnd - 1]! & 0x01) === 0) return 'missing';
  if (body.length < bitmapEnd + MAC_BYTES) return 'wrong';
  const macStart = body.length - MAC_BYTES;
  const expected = macFor(key, body.subarray(0, macStart));
  return timingSafeEqual(expected, body.subarray(macStart)) ? 'ok' : 'wrong';
}
