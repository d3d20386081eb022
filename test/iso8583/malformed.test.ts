// partner-interface §3, strictly: every way a body can break the profile is a CodecError naming the field
// and the reason, and errors after the bitmap keep the MTI and the fields read so far (to answer 39=30).
import test, { type ExecutionContext } from 'ava';
import { decode, encode, hasSecondaryBitmap, padFixed } from '../../switch/iso8583/codec.ts';
import { CodecError } from '../../switch/iso8583/errors.ts';
import type { IsoMessage } from '../../switch/iso8583/message.ts';
import { bodyOf, golden, messageOf } from './vectors.ts';

/** A body: MTI, bitmap as hex, then field bytes as given (strings are ASCII). */
function body(mti: string, bitmapHex: string, ...parts: (string | Buffer)[]): Buffer {
  return Buffer.concat([Buffer.from(mti, 'latin1'), Buffer.from(bitmapHex, 'hex'), ...parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p))]);
}

/** Bitmap hex (8 or 16 bytes) with the given bits set; bit 1 is added when any bit is above 64. */
function bitmap(...bits: number[]): string {
  const secondary = bits.some((b) => b > 64);
  const bytes = Buffer.alloc(secondary ? 16 : 8);
  for (const b of secondary ? [1, ...bits] : bits) bytes[(b - 1) >> 3]! |= 0x80 >> ((b - 1) & 7);
  return bytes.toString('hex');
}

function decodeError(t: ExecutionContext, b: Buffer): CodecError {
  const e = t.throws(() => decode(b), { instanceOf: CodecError });
  if (!e) throw new Error('decode did not throw');
  return e;
}

function encodeError(t: ExecutionContext, msg: IsoMessage): CodecError {
  const e = t.throws(() => encode(msg), { instanceOf: CodecError });
  if (!e) throw new Error('encode did not throw');
  return e;
}

// ---- decoding ----

test('a body shorter than the MTI is truncated at the MTI and cannot be answered', (t) => {
  const e = decodeError(t, Buffer.from('020'));
  t.is(e.field, 'mti');
  t.is(e.reason, 'truncated');
  t.is(e.mti, undefined);
  t.is(e.partial, undefined);
});

test('an MTI that is not 4 ASCII digits is bad_mti and cannot be answered', (t) => {
  for (const mti of ['02A0', '0x00', ' 200', '\u00ff200']) {
    const e = decodeError(t, body(mti, bitmap(11), '000001'));
    t.is(e.field, 'mti');
    t.is(e.reason, 'bad_mti');
    t.is(e.partial, undefined);
  }
});

test('a body that ends inside the primary bitmap is truncated at the bitmap and cannot be answered', (t) => {
  const e = decodeError(t, Buffer.from('0200\x32\x38', 'latin1'));
  t.is(e.field, 'bitmap');
  t.is(e.reason, 'truncated');
  t.is(e.partial, undefined);
});

test('a secondary bitmap announced but cut short is truncated at the bitmap', (t) => {
  const e = decodeError(t, body('0420', 'b238000108808000', '0000'));
  t.is(e.field, 'bitmap');
  t.is(e.reason, 'truncated');
});

test('a bitmap naming a field outside the profile is refused at that field, keeping what came before', (t) => {
  // DE5 (settlement amount) is not in our profile.
  const e = decodeError(t, body('0200', bitmap(3, 5), '010000', '000000600000'));
  t.is(e.field, 5);
  t.is(e.reason, 'field_not_in_profile');
  t.is(e.mti, '0200');
  t.deepEqual(e.partial, { 3: '010000' });
});

test('bit 65 of a secondary bitmap (a tertiary bitmap elsewhere) is a field outside the profile', (t) => {
  const e = decodeError(t, body('0800', bitmap(11, 65), '000001', '0'.repeat(16)));
  t.is(e.field, 65);
  t.is(e.reason, 'field_not_in_profile');
});

test('a fixed field cut by the end of the body is truncated', (t) => {
  const e = decodeError(t, body('0200', bitmap(3, 4), '010000', '00000060'));
  t.is(e.field, 4);
  t.is(e.reason, 'truncated');
  t.deepEqual(e.partial, { 3: '010000' });
});

test('a length prefix cut by the end of the body is truncated', (t) => {
  const e = decodeError(t, body('0200', bitmap(11, 32), '000042', '0'));
  t.is(e.field, 32);
  t.is(e.reason, 'truncated');
});

test('a length prefix that is not digits is bad_length_prefix', (t) => {
  const e = decodeError(t, body('0200', bitmap(32), '3 004'));
  t.is(e.field, 32);
  t.is(e.reason, 'bad_length_prefix');
});

test('a length prefix above the field maximum is length_exceeds_max', (t) => {
  // DE32 is n..11: 12 digits announced.
  const e = decodeError(t, body('0200', bitmap(32), '12', '1'.repeat(12)));
  t.is(e.field, 32);
  t.is(e.reason, 'length_exceeds_max');
});

test('a length prefix above the bytes left is length_exceeds_remaining', (t) => {
  const e = decodeError(t, body('0200', bitmap(11, 48), '000042', '032', 'NH012000012345678'));
  t.is(e.field, 48);
  t.is(e.reason, 'length_exceeds_remaining');
  t.deepEqual(e.partial, { 11: '000042' });
});

test('a non-digit in a fixed n field is non_digit', (t) => {
  for (const amount of ['00000060000A', '000000 60000', '-00000600000']) {
    const e = decodeError(t, body('0200', bitmap(4), amount));
    t.is(e.field, 4);
    t.is(e.reason, 'non_digit');
  }
});

test('a non-digit in a variable n field is non_digit', (t) => {
  const e = decodeError(t, body('0200', bitmap(32), '03', '0x4'));
  t.is(e.field, 32);
  t.is(e.reason, 'non_digit');
});

test('a byte outside 0x20-0x7E in an an or ans field is non_printable', (t) => {
  for (const bad of [0x00, 0x0a, 0x1f, 0x7f, 0x80, 0xff]) {
    const tid = Buffer.from('ATM00001');
    tid[3] = bad;
    const e = decodeError(t, body('0200', bitmap(41), tid));
    t.is(e.field, 41, `byte ${bad}`);
    t.is(e.reason, 'non_printable');
  }
  const e = decodeError(t, body('0210', bitmap(39), Buffer.from([0x30, 0x09])));
  t.is(e.field, 39);
  t.is(e.reason, 'non_printable');
});

test('bytes after the last field the bitmap names are trailing_bytes, with every field kept', (t) => {
  const withdrawal = golden('withdrawal');
  const e = decodeError(t, Buffer.concat([bodyOf(withdrawal), Buffer.from('00')]));
  t.is(e.field, 'frame');
  t.is(e.reason, 'trailing_bytes');
  t.is(e.mti, '0200');
  t.deepEqual(e.partial, withdrawal.fields);
});

test('a secondary bitmap of all zeros is legal and accepted', (t) => {
  const b = body('0800', '8220000000000000' + '0000000000000000', '1203081600', '000002');
  t.true(hasSecondaryBitmap(b));
  t.deepEqual(decode(b), { mti: '0800', fields: { 7: '1203081600', 11: '000002' } });
  // Re-encoding drops the empty secondary bitmap: it is written only for fields above 64.
  t.is(encode(decode(b)).length, b.length - 8);
});

test('a bitmap with no fields at all decodes to an empty message', (t) => {
  t.deepEqual(decode(body('0800', '0000000000000000')), { mti: '0800', fields: {} });
});

test('error messages name the field and the reason but never the content', (t) => {
  const e = decodeError(t, body('0200', bitmap(48), '020', 'NH012000012345678ID'));
  t.regex(e.message, /^DE48: length_exceeds_remaining/);
  t.false(e.message.includes('000012345678'));
});

// ---- encoding ----

const good = (): IsoMessage => messageOf(golden('withdrawal'));

test('encoding refuses an MTI that is not 4 digits', (t) => {
  for (const mti of ['200', '02000', '02a0', '']) {
    const e = encodeError(t, { ...good(), mti });
    t.is(e.field, 'mti');
    t.is(e.reason, 'bad_mti');
  }
});

test('encoding refuses a field outside the profile, DE1 included', (t) => {
  for (const field of [1, 5, 65, 129]) {
    const msg = good();
    msg.fields[field] = '1';
    const e = encodeError(t, msg);
    t.is(e.field, field);
    t.is(e.reason, 'field_not_in_profile');
  }
  const e = encodeError(t, { mti: '0200', fields: { '03': '010000' } as unknown as IsoMessage['fields'] });
  t.is(e.field, 'frame');
  t.is(e.reason, 'field_not_in_profile');
});

test('encoding never pads a fixed n field: a short value is value_too_short, a long one value_too_long', (t) => {
  const short = good();
  short.fields[4] = '600000';
  t.like(encodeError(t, short), { field: 4, reason: 'value_too_short' });
  const long = good();
  long.fields[11] = '0000042';
  t.like(encodeError(t, long), { field: 11, reason: 'value_too_long' });
});

test('encoding never pads a fixed an/ans field either; padFixed pads as the spec says', (t) => {
  const msg = good();
  msg.fields[41] = 'ATM1';
  t.like(encodeError(t, msg), { field: 41, reason: 'value_too_short' });
  t.is(padFixed(41, 'ATM1'), 'ATM1    ');
  t.is(padFixed(4, '600000'), '000000600000');
  t.is(padFixed(32, '4'), '4', 'variable fields are not padded');
  t.is(padFixed(41, 'ATM000011'), 'ATM000011', 'too long stays too long for encode to refuse');
  msg.fields[41] = padFixed(41, 'ATM1');
  t.is(decode(encode(msg)).fields[41], 'ATM1    ');
});

test('encoding refuses a variable field above its maximum', (t) => {
  const msg = good();
  msg.fields[44] = 'X'.repeat(26);
  t.like(encodeError(t, msg), { field: 44, reason: 'value_too_long' });
  msg.fields[44] = 'X'.repeat(25);
  t.notThrows(() => encode(msg));
});

test('encoding refuses a non-digit in an n field', (t) => {
  const msg = good();
  msg.fields[32] = '00A';
  t.like(encodeError(t, msg), { field: 32, reason: 'non_digit' });
});

test('encoding refuses a character outside 0x20-0x7E in an an/ans field', (t) => {
  for (const bad of ['é', '\n', '\u007f', '中']) {
    const msg = good();
    msg.fields[43] = `TAIPEI${bad}`.padEnd(40, ' ');
    t.like(encodeError(t, msg), { field: 43, reason: 'non_printable' });
  }
});

test('encoding refuses a field key whose value is not a string', (t) => {
  for (const value of [undefined, null, 600000]) {
    const msg = good();
    (msg.fields as Record<number, unknown>)[4] = value;
    t.like(encodeError(t, msg), { field: 4, reason: 'missing_value' });
  }
});

test('encoding refuses a b field that is not lowercase hex of its length', (t) => {
  for (const [mac, reason] of [
    ['B140D847C212FC11', 'bad_hex'],
    ['b140d847c212fc1', 'bad_hex'],
    ['b140d847c212fcxx', 'bad_hex'],
    ['b140d847c212', 'value_too_short'],
    ['b140d847c212fc1100', 'value_too_long'],
  ] as const) {
    const msg = good();
    msg.fields[64] = mac;
    t.like(encodeError(t, msg), { field: 64, reason }, mac);
  }
});

test('a secondary bitmap is written only when a field above 64 is present', (t) => {
  const primaryOnly = encode({ mti: '0200', fields: { 11: '000001', 64: '0011223344556677' } });
  t.false(hasSecondaryBitmap(primaryOnly));
  t.is(primaryOnly.length, 4 + 8 + 6 + 8);
  const withSecondary = encode({ mti: '0800', fields: { 11: '000001', 70: '301' } });
  t.true(hasSecondaryBitmap(withSecondary));
  t.is(withSecondary.length, 4 + 16 + 6 + 3);
});

test('a rejected encode leaves the message unchanged', (t) => {
  const msg = good();
  msg.fields[4] = '6000';
  const before = JSON.stringify(msg);
  t.throws(() => encode(msg), { instanceOf: CodecError });
  t.is(JSON.stringify(msg), before);
});
