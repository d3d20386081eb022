// Seeded fuzzing (fixed seeds, bounded iterations: the same cases on every run). Whatever bytes arrive,
// decode answers a message or a CodecError, never another exception and never a hang; whatever valid
// message is built, it survives encode → decode exactly.
import test from 'ava';
import { decode, encode, hasSecondaryBitmap } from '../../switch/iso8583/codec.ts';
import { CodecError } from '../../switch/iso8583/errors.ts';
import { FrameDecoder, FrameTooLargeError, frame } from '../../switch/iso8583/framing.ts';
import { verifyMac } from '../../switch/iso8583/mac.ts';
import { describe as describeMessage, describeBytes } from '../../switch/iso8583/mask.ts';
import type { FieldValues, IsoMessage } from '../../switch/iso8583/message.ts';
import { PROFILE } from '../../switch/iso8583/profile.ts';
import { referenceDecode } from './reference-codec.ts';
import { GOLDEN, GOLDEN_MAC_KEY, bodyOf } from './vectors.ts';

const ITERATIONS = 20_000;

/** mulberry32: a tiny seeded PRNG, so every run sees the same cases. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n); // 0 .. n-1
  return {
    int,
    pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!,
    bytes: (n: number): Buffer => {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
  };
}
type Rng = ReturnType<typeof prng>;

const goldenBodies = GOLDEN.map(bodyOf);

/** Decodes, failing the test on anything but success or a CodecError; returns the message or the error. */
function decodeOrCodecError(b: Buffer): IsoMessage | CodecError {
  try {
    return decode(b);
  } catch (e) {
    if (e instanceof CodecError) return e;
    throw new Error(`decode threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message} on ${b.toString('hex')}`);
  }
}

function mutate(r: Rng, src: Buffer): Buffer {
  let b = Buffer.from(src);
  const edits = 1 + r.int(4);
  for (let e = 0; e < edits; e++) {
    const at = r.int(b.length + 1);
    switch (r.int(5)) {
      case 0: // flip some bits of one byte
        if (b.length) b[Math.min(at, b.length - 1)]! ^= 1 + r.int(255);
        break;
      case 1: // truncate
        b = b.subarray(0, at);
        break;
      case 2: // insert bytes
        b = Buffer.concat([b.subarray(0, at), r.bytes(1 + r.int(8)), b.subarray(at)]);
        break;
      case 3: // delete bytes
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + r.int(8))]);
        break;
      default: // set a byte to a digit or a boundary value: reaches length prefixes and bitmaps
        if (b.length) b[Math.min(at, b.length - 1)] = r.pick([0x30, 0x39, 0x00, 0x20, 0x7e, 0x7f, 0x80, 0xff]);
    }
  }
  return b;
}

test('random bytes only ever decode to a message or a CodecError', (t) => {
  const r = prng(8583);
  let errors = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    // Half start with a valid MTI so the bitmap and fields get exercised, not just the MTI check.
    const tail = r.bytes(r.int(200));
    const b = r.int(2) ? Buffer.concat([Buffer.from(r.pick(['0200', '0420', '0800'])), tail]) : tail;
    if (decodeOrCodecError(b) instanceof CodecError) errors++;
  }
  t.true(errors > ITERATIONS * 0.9, `${errors} errors`);
});

test('mutated golden frames (flip, truncate, insert, delete bytes) only ever yield a message or a CodecError', (t) => {
  const r = prng(20240601);
  const reasons = new Set<string>();
  let decoded = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const b = mutate(r, r.pick(goldenBodies));
    const out = decodeOrCodecError(b);
    if (out instanceof CodecError) {
      reasons.add(out.reason);
      // The link's contract: partial and mti come together, only after the bitmap was read.
      t.is(out.partial === undefined, out.mti === undefined);
    } else {
      decoded++;
      // Whatever decodes re-encodes to the same bytes (an empty secondary bitmap is the one thing dropped).
      const again = encode(out);
      if (!hasSecondaryBitmap(b) || Object.keys(out.fields).some((k) => Number(k) > 64)) {
        if (!again.equals(b)) t.fail(`re-encode differs for ${b.toString('hex')}`);
      }
    }
    // The other raw-byte readers must not throw either.
    verifyMac(b, GOLDEN_MAC_KEY);
    describeBytes(b);
  }
  t.log(`${decoded} mutants decoded; reasons seen: ${[...reasons].sort().join(', ')}`);
  for (const reason of ['truncated', 'bad_length_prefix', 'length_exceeds_remaining', 'non_digit', 'non_printable', 'trailing_bytes', 'field_not_in_profile', 'bad_mti']) {
    t.true(reasons.has(reason), `mutations reached ${reason}`);
  }
});

function randomValue(r: Rng, format: string, length: number, fixed: boolean): string {
  const n = fixed ? length : r.int(length + 1);
  if (format === 'b') return r.bytes(n).toString('hex');
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(format === 'n' ? 0x30 + r.int(10) : 0x20 + r.int(0x5f));
  return s;
}

function randomMessage(r: Rng): IsoMessage {
  const fields: FieldValues = {};
  for (const spec of PROFILE) {
    if (spec.field === 1 || r.int(3) !== 0) continue;
    fields[spec.field] = randomValue(r, spec.format, spec.length, spec.prefix === 'fixed');
  }
  return { mti: String(r.int(10_000)).padStart(4, '0'), fields };
}

test('randomly generated valid messages round-trip encode → decode exactly', (t) => {
  const r = prng(42);
  for (let i = 0; i < ITERATIONS; i++) {
    const msg = randomMessage(r);
    const back = decode(encode(msg));
    if (back.mti !== msg.mti || JSON.stringify(back.fields) !== JSON.stringify(msg.fields)) {
      t.fail(`round trip differs: ${JSON.stringify(msg)}`);
      return;
    }
  }
  t.pass();
});

test('iso_8583 reads randomly generated messages field for field as we wrote them', (t) => {
  const r = prng(7);
  for (let i = 0; i < 500; i++) {
    const msg = randomMessage(r);
    // The package checks MTIs against its own list and refuses an empty variable field: stay within both.
    msg.mti = r.pick(['0200', '0210', '0220', '0420', '0430', '0800', '0810']);
    for (const [k, v] of Object.entries(msg.fields)) if (v === '') delete msg.fields[Number(k)];
    const theirs = referenceDecode(frame(encode(msg)));
    t.is(theirs.mti, msg.mti);
    t.deepEqual(theirs.fields, Object.fromEntries(Object.entries(msg.fields)));
  }
});

test('a randomly chunked stream of random frames yields exactly its bodies, or FrameTooLargeError', (t) => {
  const r = prng(99);
  for (let i = 0; i < 2_000; i++) {
    const bodies = Array.from({ length: 1 + r.int(5) }, () => (r.int(4) === 0 ? Buffer.alloc(0) : r.bytes(r.int(300))));
    const stream = Buffer.concat(bodies.map((b) => frame(b)));
    const max = r.int(4) === 0 ? r.int(300) : 2048;
    const decoder = new FrameDecoder(max);
    const out: Buffer[] = [];
    let tooLarge = false;
    try {
      for (let at = 0; at < stream.length; ) {
        const n = 1 + r.int(64);
        out.push(...decoder.push(stream.subarray(at, at + n)));
        at += n;
      }
    } catch (e) {
      if (!(e instanceof FrameTooLargeError)) throw e;
      tooLarge = true;
    }
    const expected = bodies.filter((b) => b.length > 0);
    if (tooLarge) {
      t.true(bodies.some((b) => b.length > max));
    } else {
      t.deepEqual(out.map((b) => b.toString('hex')), expected.map((b) => b.toString('hex')));
      t.is(decoder.keepAlives, bodies.length - expected.length);
    }
  }
});

test('describe never throws on a message whatever it holds', (t) => {
  const r = prng(5);
  for (let i = 0; i < 2_000; i++) {
    const msg = randomMessage(r);
    if (r.int(2)) msg.fields[48] = r.bytes(r.int(40)).toString('latin1');
    const line = describeMessage(msg);
    t.false(line.includes('\n'));
  }
});
