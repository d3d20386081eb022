// "Has this identifier hash come up before in the file?", in bounded memory: a Bloom filter, blocked (all the bits of
// one key in one 32-bit word, so a lookup is one cache miss). It never says no for a hash it has seen; it may say yes
// for one it has not: in 64 MiB, about 1 in 20,000 after 2 million keys (a roster of a million), 1 in 50 after 47
// million (all of Taiwan). The roster import sends the rows it says yes to through the exact, slower check, so a
// false yes costs time, never correctness.
//
// The hashes are HMAC outputs, uniformly random: the word and the bits are read straight from their bytes.

/** Default size: 2^29 bits. */
export const SEEN_FILTER_BYTES = 64 << 20;
const BITS_PER_KEY = 4;

export class SeenFilter {
  private readonly words: Int32Array;
  private readonly mask: number;

  /** `bytes` is rounded down to a power of two (at least 4). */
  constructor(bytes = SEEN_FILTER_BYTES) {
    const words = 2 ** Math.floor(Math.log2(Math.max(4, bytes) / 4));
    this.words = new Int32Array(words);
    this.mask = words - 1;
  }

  /** Adds the hash of at least 8 bytes at `buf[offset]`; true when it may have been added before. */
  add(buf: Buffer, offset: number): boolean {
    const i = buf.readUInt32LE(offset) & this.mask;
    let bits = 0;
    for (let k = 0; k < BITS_PER_KEY; k++) bits |= 1 << (buf[offset + 4 + k]! & 31);
    const word = this.words[i]!;
    this.words[i] = word | bits;
    return (word & bits) === bits;
  }
}
