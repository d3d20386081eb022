// hashIdentifier (hashing.ts) for bulk work: the roster import hashes two or three identifiers per row, millions of
// rows, and node's createHmac costs about 3 µs and four allocations per call. This computes the same HMAC-SHA256
// with the key's inner and outer SHA-256 states worked out once: an identifier ("id:" + 10 characters, "nhi:" + 12)
// fits one block, so each hash is two compressions, written straight into the caller's buffer, no garbage.
// The result must equal hashIdentifier byte for byte: the tests compare them on many inputs, and every hasher checks
// itself against hashIdentifier when it is made. Anything that is not short ASCII goes to hashIdentifier itself.
import { hashIdentifier, type IdentifierKind } from './hashing.ts';

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
const BLOCK_BYTES = 64;
/** The longest message that fits one block with SHA-256's padding (0x80 and the 8-byte length). */
const MAX_ONE_BLOCK_BYTES = BLOCK_BYTES - 9;

/** SHA-256's compression of the 16 words in w[0..15] (w is the 64-word schedule) onto state `from`, into `to`. */
function compress(w: Int32Array, from: Int32Array, to: Int32Array): void {
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15]!, b = w[i - 2]!;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = from[0]!, b = from[1]!, c = from[2]!, d = from[3]!, e = from[4]!, f = from[5]!, g = from[6]!, h = from[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  to[0] = (from[0]! + a) | 0; to[1] = (from[1]! + b) | 0; to[2] = (from[2]! + c) | 0; to[3] = (from[3]! + d) | 0;
  to[4] = (from[4]! + e) | 0; to[5] = (from[5]! + f) | 0; to[6] = (from[6]! + g) | 0; to[7] = (from[7]! + h) | 0;
}

export type BulkHasher = (kind: IdentifierKind, value: string, out: Buffer, offset: number) => void;

/** A hasher for one key: writes hashIdentifier(key, kind, value) (32 bytes) into out at offset. */
export function bulkHasher(key: Buffer): BulkHasher {
  if (key.length > BLOCK_BYTES) throw new Error('bulkHasher takes keys of at most 64 bytes (campaign keys are 32)');
  const w = new Int32Array(64);
  const inner = new Int32Array(8);
  const outer = new Int32Array(8);
  const state = new Int32Array(8);
  for (const [pad, into] of [[0x36, inner], [0x5c, outer]] as const) {
    for (let i = 0; i < 16; i++) {
      let word = 0;
      for (let j = 0; j < 4; j++) word = (word << 8) | (((key[i * 4 + j] ?? 0) ^ pad) & 0xff);
      w[i] = word;
    }
    compress(w, IV, into);
  }

  const hash: BulkHasher = (kind, value, out, offset) => {
    const prefix = kind === 'nhi' ? 'nhi:' : 'id:';
    const n = prefix.length + value.length;
    if (n > MAX_ONE_BLOCK_BYTES || !/^[\x20-\x7e]*$/.test(value)) {
      hashIdentifier(key, kind, value).copy(out, offset);
      return;
    }
    w.fill(0, 0, 16);
    for (let i = 0; i < n; i++) {
      const c = i < prefix.length ? prefix.charCodeAt(i) : value.charCodeAt(i - prefix.length);
      w[i >> 2] = w[i >> 2]! | (c << (24 - 8 * (i & 3)));
    }
    w[n >> 2] = w[n >> 2]! | (0x80 << (24 - 8 * (n & 3)));
    w[15] = (BLOCK_BYTES + n) * 8;
    compress(w, inner, state);
    // The outer message is the 32-byte inner digest, padded.
    for (let i = 0; i < 8; i++) w[i] = state[i]!;
    w[8] = 0x80000000 | 0;
    w.fill(0, 9, 15);
    w[15] = (BLOCK_BYTES + 32) * 8;
    compress(w, outer, state);
    for (let i = 0; i < 8; i++) out.writeInt32BE(state[i]!, offset + 4 * i);
  };

  // Never diverge silently from the one definition of an identifier's hash.
  const probe = Buffer.alloc(32);
  for (const [kind, value] of [['id', 'A123456789'], ['nhi', '000012345678']] as const) {
    hash(kind, value, probe, 0);
    if (!probe.equals(hashIdentifier(key, kind, value))) throw new Error('bulkHasher disagrees with hashIdentifier');
  }
  return hash;
}
