import test from 'ava';
import { CodecError } from '../../../switch/iso8583/errors.ts';
import { FIXED } from '../../../switch/iso8583/prefix/fixed.ts';

const buf = Buffer.from('0102030405');

test('a fixed field takes no prefix bytes and reads exactly its profile length', (t) => {
  t.is(FIXED.bytes, 0);
  t.is(FIXED.decodeLength(3, 6, buf, 2, 10), 6);
  t.is(FIXED.decodeLength(3, 8, buf, 2, 10), 8);
});

test('a fixed field longer than the bytes left is truncated', (t) => {
  const e = t.throws(() => FIXED.decodeLength(4, 12, buf, 2, 10), { instanceOf: CodecError });
  t.is(e?.field, 4);
  t.is(e?.reason, 'truncated');
});

test('a fixed value must have exactly its length: shorter and longer are both refused', (t) => {
  t.notThrows(() => FIXED.checkLength(3, 6, 6));
  t.is(t.throws(() => FIXED.checkLength(3, 6, 5), { instanceOf: CodecError })?.reason, 'value_too_short');
  t.is(t.throws(() => FIXED.checkLength(3, 6, 7), { instanceOf: CodecError })?.reason, 'value_too_long');
});

test('writing a fixed prefix writes nothing', (t) => {
  const out = Buffer.from('xxxx');
  t.is(FIXED.writeLength(6, out, 1), 1);
  t.is(out.toString(), 'xxxx');
});
