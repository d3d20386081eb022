import test from 'ava';
import { CodecError } from '../../../switch/iso8583/errors.ts';
import { LLLVAR } from '../../../switch/iso8583/prefix/lllvar.ts';

function reason(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof CodecError ? `${e.field}:${e.reason}` : 'other';
  }
  return 'none';
}

test('an LLLVAR prefix is 3 ASCII digits giving the data length', (t) => {
  t.is(LLLVAR.bytes, 3);
  t.is(LLLVAR.maxLength, 999);
  t.is(LLLVAR.decodeLength(48, 999, Buffer.from('005NH001'), 0, 8), 5);
});

test('an LLLVAR prefix that is not three digits is a bad length prefix', (t) => {
  t.is(reason(() => LLLVAR.decodeLength(48, 999, Buffer.from('0-5abcde'), 0, 8)), '48:bad_length_prefix');
});

test('an LLLVAR length above the field maximum is refused', (t) => {
  t.is(reason(() => LLLVAR.decodeLength(54, 120, Buffer.from('121' + 'x'.repeat(121)), 0, 124)), '54:length_exceeds_max');
});

test('an LLLVAR length beyond the bytes left is refused', (t) => {
  t.is(reason(() => LLLVAR.decodeLength(48, 999, Buffer.from('010abc'), 0, 6)), '48:length_exceeds_remaining');
});

test('an LLLVAR prefix cut by the end of the body is truncated', (t) => {
  t.is(reason(() => LLLVAR.decodeLength(48, 999, Buffer.from('00'), 0, 2)), '48:truncated');
});

test('an LLLVAR value is written with a zero-padded 3-digit length and refused above its maximum', (t) => {
  const out = Buffer.alloc(4, 'x');
  t.is(LLLVAR.writeLength(32, out, 1), 4);
  t.is(out.toString(), 'x032');
  t.is(reason(() => LLLVAR.checkLength(54, 120, 121)), '54:value_too_long');
});
