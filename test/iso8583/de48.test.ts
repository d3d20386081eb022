// partner-interface §3 DE48: 2-letter tag, 3-digit length, value; unknown tags are ignored by callers.
import test from 'ava';
import { buildTlv, parseTlv } from '../../switch/iso8583/de48.ts';
import { CodecError } from '../../switch/iso8583/errors.ts';
import { golden } from './vectors.ts';

test('the golden withdrawal DE48 reads as NH and ID', (t) => {
  const tags = parseTlv(golden('withdrawal').fields[48]!);
  t.deepEqual([...tags], [
    ['NH', '000012345678'],
    ['ID', 'A123456789'],
  ]);
});

test('unknown tags are kept in the map for callers to ignore', (t) => {
  const tags = parseTlv('ZZ003abcNH012000012345678CP005C2025');
  t.is(tags.get('ZZ'), 'abc');
  t.is(tags.get('NH'), '000012345678');
  t.is(tags.get('CP'), 'C2025');
});

test('an empty DE48 and an empty value are legal', (t) => {
  t.is(parseTlv('').size, 0);
  t.is(parseTlv('CP000').get('CP'), '');
});

for (const [value, why] of [
  ['NH01', 'an entry cut before its length ends'],
  ['NH012000012345678I', 'trailing bytes too short for an entry'],
  ['nh012000012345678', 'a lowercase tag'],
  ['N1012000012345678', 'a tag that is not two letters'],
  ['NH0a2000012345678', 'a length that is not 3 digits'],
  ['NH013000012345678', 'a length beyond the value'],
  ['NH012000012345678NH012000087654321', 'the same tag twice'],
] as const) {
  test(`a malformed DE48 is a CodecError bad_tlv on DE48: ${why}`, (t) => {
    const e = t.throws(() => parseTlv(value), { instanceOf: CodecError });
    t.is(e?.field, 48);
    t.is(e?.reason, 'bad_tlv');
    t.false(e!.message.includes('000012345678'), 'the message never quotes the content');
  });
}

test('buildTlv writes entries in order with 3-digit lengths and parses back', (t) => {
  const value = buildTlv([
    ['NH', '000012345678'],
    ['ID', 'A123456789'],
  ]);
  t.is(value, golden('withdrawal').fields[48]!);
  t.is(buildTlv({ CP: 'C2025', NH: '1' }), 'CP005C2025NH0011');
  t.deepEqual(Object.fromEntries(parseTlv(buildTlv({ CP: '', ZZ: 'x'.repeat(999) }))), { CP: '', ZZ: 'x'.repeat(999) });
});

test('buildTlv refuses a bad tag, a repeated tag and a value over 999 characters', (t) => {
  for (const entries of [[['N', 'x']], [['NHX', 'x']], [['NH', '1'], ['NH', '2']], [['ZZ', 'x'.repeat(1000)]]] as [string, string][][]) {
    const e = t.throws(() => buildTlv(entries), { instanceOf: CodecError });
    t.is(e?.reason, 'bad_tlv');
  }
});
