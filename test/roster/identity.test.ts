import test from 'ava';
import {
  checkIdNumber,
  idCheckDigit,
  isValidIdNumber,
  isValidNhiCardNumber,
  randomIdNumber,
  randomNhiCardNumber,
  seededRandom,
  syntheticIdentities,
} from '../../switch/roster/identity.ts';

test('the ID numbers in the operations.md roster example are valid national IDs', (t) => {
  for (const id of ['A123456789', 'B223456782', 'F131104093']) t.deepEqual(checkIdNumber(id), { ok: true, kind: 'national' }, id);
});

test('accepts published national IDs, including the letters valued out of sequence (I, O, W)', (t) => {
  // Published examples, including the letters whose values are out of sequence (I=34, O=35, W=32).
  for (const id of ['Y144766850', 'I215752650', 'O104381760', 'W102012661', 'X118488802', 'E204432327']) {
    t.true(isValidIdNumber(id), id);
  }
});

test('accepts new-style resident certificate numbers (second character 8 or 9)', (t) => {
  for (const id of ['A800000014', 'A824285055', 'G951582036', 'R884356462', 'J839129044']) {
    t.deepEqual(checkIdNumber(id), { ok: true, kind: 'resident' }, id);
  }
});

test('accepts old-style resident certificate numbers, the second letter counting by the units digit of its value', (t) => {
  // AC01234567: A=10 -> 1*1 + 0*9; C=12 -> 2*8; digits 0123456 weighted 7..1; check 7: sum 80.
  for (const id of ['AC01234567', 'AA00000009', 'HD12345678']) t.deepEqual(checkIdNumber(id), { ok: true, kind: 'resident-old' }, id);
});

test('rejects a wrong check digit in each kind', (t) => {
  for (const id of ['A123456788', 'B223456781', 'A800000015', 'R884356461', 'AC01234568', 'AA00000008']) {
    t.deepEqual(checkIdNumber(id), { ok: false, problem: 'check-digit' }, id);
  }
});

test('rejects what is not an ID number at all', (t) => {
  const bad = [
    '', 'A12345678', 'A1234567890', 'a123456789', '1123456789', 'A323456789', 'A723456789',
    'AE01234567', 'AZ01234567', 'A12345678X', ' A123456789', 'A123456789 ', 'Ａ123456789',
  ];
  for (const id of bad) t.deepEqual(checkIdNumber(id), { ok: false, problem: 'format' }, JSON.stringify(id));
});

test('idCheckDigit completes a prefix into a valid number and refuses a malformed prefix', (t) => {
  t.is(idCheckDigit('A12345678'), '9');
  t.is(idCheckDigit('AC0123456'), '7');
  t.throws(() => idCheckDigit('A1234567'));
  t.throws(() => idCheckDigit('AE0123456'));
});

test('an NHI card number is exactly 12 digits', (t) => {
  t.true(isValidNhiCardNumber('000012345678'));
  for (const s of ['00001234567', '0000123456789', '00001234567a', ' 00012345678', '']) t.false(isValidNhiCardNumber(s), s);
});

test('synthetic identities are valid, reproducible from the seed, and distinct per index', (t) => {
  const a = syntheticIdentities(7);
  const b = syntheticIdentities(7);
  const c = syntheticIdentities(8);
  const ids = new Set<string>();
  const nhis = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    for (const kind of ['national', 'resident', 'resident-old'] as const) {
      const id = a.idNumber(i, kind);
      const check = checkIdNumber(id);
      t.true(check.ok && check.kind === kind, id);
      ids.add(id);
    }
    const nhi = a.nhiCardNumber(i);
    t.true(isValidNhiCardNumber(nhi));
    nhis.add(nhi);
  }
  t.is(ids.size, 60_000);
  t.is(nhis.size, 20_000);
  t.is(b.idNumber(12_345), a.idNumber(12_345));
  t.is(b.nhiCardNumber(12_345), a.nhiCardNumber(12_345));
  t.not(c.idNumber(12_345), a.idNumber(12_345));
  t.throws(() => a.idNumber(-1));
  t.throws(() => a.idNumber(520_000_000));
});

test('random ID and NHI numbers from a seeded generator are valid and repeat with the seed', (t) => {
  const r1 = seededRandom(99);
  const r2 = seededRandom(99);
  for (let i = 0; i < 1_000; i++) {
    const kind = (['national', 'resident', 'resident-old'] as const)[i % 3]!;
    const id = randomIdNumber(r1, kind);
    t.true(isValidIdNumber(id), id);
    t.is(randomIdNumber(r2, kind), id);
    const nhi = randomNhiCardNumber(r1);
    t.true(isValidNhiCardNumber(nhi));
    t.is(randomNhiCardNumber(r2), nhi);
  }
});
