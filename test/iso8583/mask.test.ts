// partner-interface §8: logs never show a full NHI number, ID number or card number.
import test from 'ava';
import { decode } from '../../switch/iso8583/codec.ts';
import { describe, describeBytes, maskPan } from '../../switch/iso8583/mask.ts';
import { bodyOf, golden, messageOf } from './vectors.ts';

test('describe of the golden withdrawal shows no full NHI number, ID number or PAN', (t) => {
  const msg = messageOf(golden('withdrawal'));
  msg.fields[2] = '4123456789012345';
  const line = describe(msg);
  t.false(line.includes('000012345678'), 'NHI number');
  t.false(line.includes('12345678'), 'most of the NHI number');
  t.false(line.includes('A123456789'), 'ID number');
  t.false(line.includes('123456789'), 'ID digits');
  t.false(line.includes('4123456789012345'), 'PAN');
  t.false(line.includes('\n'));
});

test('describe keeps what a reader needs: MTI, fields, last 4 of the NHI number, first letter of the ID', (t) => {
  const msg = messageOf(golden('withdrawal'));
  msg.fields[2] = '4123456789012345';
  const line = describe(msg);
  t.true(line.startsWith('0200 '));
  t.true(line.includes('11="000042"'));
  t.true(line.includes('2=412345******2345'));
  t.true(line.includes('NH:********5678'));
  t.true(line.includes('ID:A*********'));
});

test('a short PAN shows less, never more than first 6 and last 4 digits', (t) => {
  t.is(maskPan('4123456789012345678'), '412345*********5678');
  t.is(maskPan('412345678901'), '********8901');
  t.is(maskPan('4123456'), '*******');
});

test('MAC fields are shown as <mac>', (t) => {
  const line = describe(decode(bodyOf(golden('reversal-mac'))));
  t.true(line.includes('128=<mac>'));
  t.false(line.includes(golden('reversal-mac').fields[128]!));
  t.true(describe(decode(bodyOf(golden('withdrawal-mac')))).includes('64=<mac>'));
});

test('an unparsable DE48 is shown by its length only; unknown tags by their length only', (t) => {
  const bad = describe({ mti: '0200', fields: { 48: 'NH012000012345' } });
  t.true(bad.includes('48=<unparsable, 14 chars>'));
  t.false(bad.includes('000012345'));
  const unknown = describe({ mti: '0200', fields: { 48: 'ZZ010A123456789CP005C2025' } });
  t.true(unknown.includes('ZZ:<10 chars>'));
  t.true(unknown.includes('CP:"C2025"'));
  t.false(unknown.includes('A123456789'));
});

test('describeBytes shows the length and at most the MTI and bitmaps, never the fields', (t) => {
  const body = bodyOf(golden('withdrawal'));
  const line = describeBytes(body);
  t.is(line, `${body.length} bytes, head ${body.subarray(0, 12).toString('hex')}`);
  const rev = bodyOf(golden('reversal-mac'));
  t.is(describeBytes(rev), `${rev.length} bytes, head ${rev.subarray(0, 20).toString('hex')}`);
  t.is(describeBytes(Buffer.from('02')), '2 bytes, head 3032');
});
