// Encode/decode throughput of our codec against the `iso_8583` npm package, on the golden 0200 withdrawal.
// Run: npx tsx bench/codec.ts   (about 12 s). Each case warms up first; then the cases take turns for a few
// rounds and the best round counts, so a burst of load on the machine does not favour one side.
import { decode, encode } from '../switch/iso8583/codec.ts';
import { frame } from '../switch/iso8583/framing.ts';
import { bodyOf, frameOf, golden } from '../test/iso8583/vectors.ts';
import { referenceDecodeRaw, referenceEncode } from '../test/iso8583/reference-codec.ts';

const WARMUP_MS = 500;
const ROUND_MS = 700;
const ROUNDS = 3;

const g = golden('withdrawal');
const body = bodyOf(g);
const wholeFrame = frameOf(g);
const msg = { mti: g.mti, fields: { ...g.fields } };

let sink = 0; // keeps results alive so the work is not optimised away

/** Messages per second of `run` over about `ms` milliseconds. */
function rate(run: () => number, ms: number): number {
  let n = 0;
  const start = performance.now();
  const stop = start + ms;
  while (performance.now() < stop) {
    for (let i = 0; i < 1000; i++) sink += run();
    n += 1000;
  }
  return n / ((performance.now() - start) / 1000);
}

const cases = {
  // Ours works on the body (framing is separate); the package takes the whole frame, so ours pays for framing in encode.
  ours: {
    decode: () => decode(body).mti.length,
    encode: () => frame(encode(msg)).length,
  },
  iso_8583: {
    decode: () => referenceDecodeRaw(wholeFrame)[0]!.length,
    encode: () => referenceEncode(msg.mti, msg.fields).length,
  },
};

const results: Record<string, Record<string, number>> = {};
for (const [name, ops] of Object.entries(cases)) {
  rate(ops.decode, WARMUP_MS);
  rate(ops.encode, WARMUP_MS);
  results[name] = { decode: 0, encode: 0 };
}
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, ops] of Object.entries(cases)) {
    const r = results[name]!;
    r.decode = Math.max(r.decode!, rate(ops.decode, ROUND_MS));
    r.encode = Math.max(r.encode!, rate(ops.encode, ROUND_MS));
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(12);
console.log(`golden 0200 withdrawal, ${body.length}-byte body, node ${process.version}`);
console.log(`${'codec'.padEnd(10)}${'decode msg/s'.padStart(14)}${'encode msg/s'.padStart(14)}`);
for (const [name, r] of Object.entries(results)) console.log(`${name.padEnd(10)}  ${fmt(r.decode!)}  ${fmt(r.encode!)}`);
const ratio = (op: 'decode' | 'encode') => (results.ours![op]! / results.iso_8583![op]!).toFixed(1);
console.log(`ours / iso_8583: decode ${ratio('decode')}x, encode ${ratio('encode')}x`);
if (sink === 0) console.log('(unreachable)');
