// partner-interface §3 and the golden messages: every frame decodes to exactly its fields, every field set
// encodes to exactly its frame, and an independent ISO 8583 implementation reads the frames the same way.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { decode, encode } from '../../switch/iso8583/codec.ts';
import { frame } from '../../switch/iso8583/framing.ts';
import { PROFILE } from '../../switch/iso8583/profile.ts';
import { referenceDecode } from './reference-codec.ts';
import { GOLDEN, VECTORS_PATH, bodyOf, frameOf, messageOf } from './vectors.ts';

test('the golden vectors are there to test against', (t) => {
  t.true(GOLDEN.length >= 14);
  t.true(GOLDEN.some((g) => g.binary_fields.includes('64')));
  t.true(GOLDEN.some((g) => g.binary_fields.includes('128')));
});

for (const g of GOLDEN) {
  test(`golden ${g.name} (${g.note}): the frame decodes to exactly its MTI and fields`, (t) => {
    const f = frameOf(g);
    t.is(f.readUInt16BE(0), f.length - 2, 'the 2-byte prefix counts the body only');
    t.deepEqual(decode(bodyOf(g)), messageOf(g));
  });

  test(`golden ${g.name}: its fields encode to exactly its frame`, (t) => {
    t.is(frame(encode(messageOf(g))).toString('hex'), g.frame_hex);
  });

  test(`golden ${g.name}: iso_8583 decodes the frame to the same fields as ours`, (t) => {
    const ours = decode(bodyOf(g));
    const theirs = referenceDecode(frameOf(g));
    t.is(theirs.mti, ours.mti);
    t.deepEqual(Object.keys(theirs.fields), Object.keys(ours.fields));
    for (const [k, v] of Object.entries(ours.fields)) t.is(theirs.fields[k], v, `DE${k}`);
  });
}

// The DE table of §3, read from the spec itself, must be exactly our profile table.
test('the profile table defines exactly the data elements of the spec table, with their formats', (t) => {
  const specPath = resolve(dirname(VECTORS_PATH), '../partner-interface.md');
  const rows = readFileSync(specPath, 'utf8')
    .split('\n')
    .filter((l) => /^\| \d+( \/ \d+)? \|/.test(l));
  const fromSpec = new Map<number, string>();
  for (const row of rows) {
    const cells = row.split('|').map((c) => c.trim());
    const des = cells[1]!.split(' / ').map(Number);
    const formats = cells[3]!.split(' / ');
    des.forEach((de, i) => fromSpec.set(de, formats[i] ?? formats[0]!));
  }
  const ours = new Map<number, string>(
    PROFILE.filter((s) => s.field !== 1).map((s) => {
      const len = s.prefix === 'fixed' ? `${s.length}` : `..${s.length} ${s.prefix}`;
      return [s.field, `${s.format}${len}`] as const;
    }),
  );
  t.deepEqual([...ours.keys()].sort((a, b) => a - b), [...fromSpec.keys()].sort((a, b) => a - b));
  for (const [de, format] of fromSpec) t.is(ours.get(de), format, `DE${de}`);
});

test('every profile row has a name and a description', (t) => {
  for (const s of PROFILE) {
    t.true(s.name.length > 0 && s.description.length > 0, `DE${s.field}`);
  }
  t.is(PROFILE.find((s) => s.field === 1)?.name, 'Secondary bitmap');
});
