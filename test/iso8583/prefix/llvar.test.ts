import test from 'ava';
import { CodecError } from '../../../switch/iso8583/errors.ts';
import { LLVAR } from '../../../switch/iso8583/prefix/llvar.ts';

function reason(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof CodecError ? `${e.field}:${e.reason}` : 'other';
  }
  return 'none';
}

test('an LLVAR prefix is 2 ASCII digits giving the data length', (t) => {
  t.is(LLVAR.bytes, 2);
  t.is(LLVAR.maxLength, 99);
  t.is(LLVAR.decodeLength(32, 11, Buffer.from('03004'), 0, 5), 3);
  t.is(LLVAR.decodeLength(32, 11, Buffer.from('xx00'), 2, 4), 0);
});

test('an LLVAR prefix that is not two digits is a bad length prefix', (t) => {
  t.is(reason(() => LLVAR.decodeLength(32, 11, Buffer.from('0a004'), 0, 5)), '32:bad_length_prefix');
  t.is(reason(() => LLVAR.decodeLength(32, 11, Buffer.from(' 3004'), 0, 5)), '32:bad_length_prefix');
});

test('an LLVAR length above the field maximum is refused', (t) => {
  t.is(reason(() => LLVAR.decodeLength(32, 11, Buffer.from('12' + '1'.repeat(12)), 0, 14)), '32:length_exceeds_max');
});

test('an LLVAR length beyond the bytes left is refused', (t) => {
  t.is(reason(() => LLVAR.decodeLength(44, 25, Buffer.from('05abcd'), 0, 6)), '44:length_exceeds_remaining');
});

test('an LLVAR prefix cut by the end of the body is truncated', (t) => {
  t.is(reason(() => LLVAR.decodeLength(2, 19, Buffer.from('1'), 0, 1)), '2:truncated');
});

test('an LLVAR value up to its maximum is written with a zero-padded 2-digit length', (t) => {
  const out = Buffer.alloc(2);
  t.is(LLVAR.writeLength(7, out, 0), 2);
  t.is(out.toString(), '07');
  t.notThrows(() => LLVAR.checkLength(2, 19, 19));
  t.is(reason(() => LLVAR.checkLength(2, 19, 20)), '2:value_too_long');
});
