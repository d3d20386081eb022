import test from 'ava';
import { readLines, splitCsvLine, type Line } from '../../switch/roster/csv.ts';
import { checkRow, isIsoDate, parseHeader, taipeiDate, RosterFileError, MAX_GUARDIANS } from '../../switch/roster/rows.ts';

async function lines(chunks: Array<string | Buffer>, max?: number): Promise<Line[]> {
  const out: Line[] = [];
  for await (const batch of readLines((async function* () { yield* chunks; })(), max)) out.push(...batch);
  return out;
}

test('lines keep their physical numbers across chunk boundaries, CRLF, a BOM and a missing final newline', async (t) => {
  const got = await lines(['\uFEFFa,b\r\nc', 'd\r\n\r\n', 'e\nf']);
  t.deepEqual(got, [
    { no: 1, text: 'a,b' },
    { no: 2, text: 'cd' },
    { no: 3, text: '' },
    { no: 4, text: 'e' },
    { no: 5, text: 'f' },
  ]);
});

test('a UTF-8 character split between two chunks is decoded whole', async (t) => {
  const bytes = Buffer.from('x,台\n');
  const got = await lines([bytes.subarray(0, 3), bytes.subarray(3)]);
  t.deepEqual(got, [{ no: 1, text: 'x,台' }]);
});

test('a line longer than the limit comes out as null, without its text, and the next line is read', async (t) => {
  const got = await lines(['ok\n', 'x'.repeat(30), 'y'.repeat(30), '\nnext\n', 'z'.repeat(50)], 40);
  t.deepEqual(got, [{ no: 1, text: 'ok' }, { no: 2, text: null }, { no: 3, text: 'next' }, { no: 4, text: null }]);
});

test('CSV fields: plain, quoted, quotes doubled inside quotes, and broken quoting', (t) => {
  t.deepEqual(splitCsvLine('a,,b'), ['a', '', 'b']);
  t.deepEqual(splitCsvLine('"a,1","say ""hi""",'), ['a,1', 'say "hi"', '']);
  t.deepEqual(splitCsvLine('"x"'), ['x']);
  t.is(splitCsvLine('"unterminated'), null);
  t.is(splitCsvLine('"a"b,c'), null);
  t.is(splitCsvLine('a"b,c'), null);
});

test('the header names the columns in any order, with amount optional', (t) => {
  const h = parseHeader(['birth_date', 'ID_NO', 'guardian_ids', 'amount', ' nhi_card_no']);
  t.deepEqual(h.index, { birth_date: 0, id_no: 1, guardian_ids: 2, amount: 3, nhi_card_no: 4 });
  t.is(h.width, 5);
});

test('a header with an unknown, repeated or missing column refuses the file with a line-1 reason', (t) => {
  t.throws(() => parseHeader(['nhi_card_no', 'id_no', 'birth_date', 'guardian_ids', 'ammount']), {
    instanceOf: RosterFileError,
    message: /^line 1: unknown column "ammount"/,
  });
  t.throws(() => parseHeader(['nhi_card_no', 'id_no', 'id_no', 'birth_date', 'guardian_ids']), { message: /appears twice/ });
  t.throws(() => parseHeader(['nhi_card_no', 'id_no']), { message: /^line 1: missing columns birth_date, guardian_ids/ });
  t.throws(() => parseHeader(null), { message: /^line 1: the header's quoting is broken/ });
});

const header = parseHeader(['nhi_card_no', 'id_no', 'birth_date', 'guardian_ids', 'amount']);
const today = '2026-12-03';
const row = (nhi: string, id: string, birth: string, guardians = '', amount = '') => checkRow([nhi, id, birth, guardians, amount], header, today);
const reason = (r: ReturnType<typeof checkRow>) => (r.ok ? 'ok' : r.reason);

test('a valid row comes back checked, trimmed, with the campaign amount when amount is empty', (t) => {
  t.deepEqual(row(' 000012345679', 'B223456782 ', '2019-02-11', 'A123456789; F131104093'), {
    ok: true,
    row: { nhi: '000012345679', id: 'B223456782', birthDate: '2019-02-11', guardians: ['A123456789', 'F131104093'], amountTwd: null },
  });
  const r = row('000012345678', 'A123456789', '1980-05-01', '', '10000');
  t.true(r.ok && r.row.amountTwd === 10_000);
});

test('each rule names its column and never the value', (t) => {
  const cases: Array<[ReturnType<typeof checkRow>, string]> = [
    [row('12345678', 'A123456789', '1980-05-01'), 'nhi_card_no must be 12 digits'],
    [row('000012345678', 'A123456788', '1980-05-01'), 'id_no check digit is wrong'],
    [row('000012345678', 'A12345678', '1980-05-01'), 'id_no is not a national ID or resident certificate number'],
    [row('000012345678', 'A123456789', '1980-02-30'), 'birth_date is not a real date written YYYY-MM-DD'],
    [row('000012345678', 'A123456789', '01/05/1980'), 'birth_date is not a real date written YYYY-MM-DD'],
    [row('000012345678', 'A123456789', '1899-12-31'), 'birth_date is not a real date written YYYY-MM-DD'],
    [row('000012345678', 'A123456789', '2026-12-04'), 'birth_date is in the future'],
    [row('000012345679', 'B223456782', '2019-02-11', 'A123456789;F131104094'), 'guardian_ids #2 check digit is wrong'],
    [row('000012345679', 'B223456782', '2019-02-11', 'X'), 'guardian_ids #1 is not a national ID or resident certificate number'],
    [row('000012345679', 'B223456782', '2019-02-11', 'A123456789;'), 'guardian_ids #2 is empty'],
    [row('000012345679', 'B223456782', '2019-02-11', 'B223456782'), "guardian_ids #1 is the beneficiary's own id_no"],
    [row('000012345679', 'B223456782', '2019-02-11', 'A123456789;A123456789'), 'guardian_ids #2 repeats guardian #1'],
    [row('000012345678', 'A123456789', '1980-05-01', '', '0'), 'amount must be a whole number of TWD from 1 to 9999999999'],
    [row('000012345678', 'A123456789', '1980-05-01', '', '6000.50'), 'amount must be a whole number of TWD from 1 to 9999999999'],
    [row('000012345678', 'A123456789', '1980-05-01', '', '-6000'), 'amount must be a whole number of TWD from 1 to 9999999999'],
    [checkRow(['000012345678', 'A123456789', '1980-05-01'], header, today), 'has 3 fields, the header has 5'],
  ];
  for (const [r, want] of cases) t.is(reason(r), want);
  const many = Array.from({ length: MAX_GUARDIANS + 1 }, () => 'A123456789').join(';');
  t.is(reason(row('000012345679', 'B223456782', '2019-02-11', many)), `guardian_ids lists more than ${MAX_GUARDIANS} guardians`);
});

test('a birth date of today is not in the future; today is the date in Taipei', (t) => {
  t.is(reason(row('000012345678', 'A123456789', today)), 'ok');
  t.is(taipeiDate(new Date('2026-12-03T15:59:59Z')), '2026-12-03');
  t.is(taipeiDate(new Date('2026-12-03T16:00:00Z')), '2026-12-04');
});

test('ISO dates: leap days only in leap years', (t) => {
  t.true(isIsoDate('2024-02-29'));
  t.true(isIsoDate('2000-02-29'));
  t.false(isIsoDate('1900-02-29'));
  t.false(isIsoDate('2023-02-29'));
  t.false(isIsoDate('2023-13-01'));
  t.false(isIsoDate('2023-04-31'));
  t.false(isIsoDate('2023-4-01'));
});
