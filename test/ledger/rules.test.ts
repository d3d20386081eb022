// The pure rules of partner-interface.md §5 and the §7 order, as tables.
import test from 'ava';
import { ageOn, atmLocalDate, claimantOutcome, decideWithdrawal, entitlementOutcome, type RosterEntry, type WithdrawalFacts } from '../../switch/ledger/rules.ts';

const at = (iso: string) => new Date(iso);

for (const [mmdd, now, expected, why] of [
  ['1203', '2026-12-03T08:15:30Z', '2026-12-03', 'the same day'],
  ['1231', '2026-12-31T16:30:00Z', '2026-12-31', 'an ATM date of 1231 seen on 1 January in Taipei belongs to the year before'],
  ['0101', '2026-12-31T15:59:00Z', '2027-01-01', 'an ATM already in 1 January while Taipei is still in 31 December belongs to the year after'],
  ['0101', '2026-12-31T16:00:00Z', '2027-01-01', 'Taipei midnight: the switch itself is in the new year'],
  ['0229', '2028-02-28T12:00:00Z', '2028-02-29', 'a leap day in a leap year'],
] as const) {
  test(`the ATM local date ${mmdd} at ${now} is ${expected}: ${why}`, (t) => {
    const d = atmLocalDate(mmdd, at(now))!;
    t.is(`${d.y}-${String(d.m).padStart(2, '0')}-${String(d.d).padStart(2, '0')}`, expected);
  });
}

test('an ATM date that exists in no year around today is not a date (0229 with no leap year near)', (t) => {
  t.is(atmLocalDate('0229', at('2026-06-01T00:00:00Z')), null);
  t.is(atmLocalDate('1301', at('2026-06-01T00:00:00Z')), null);
});

for (const [birth, on, age] of [
  ['2019-12-04', { y: 2026, m: 12, d: 3 }, 6],
  ['2019-12-03', { y: 2026, m: 12, d: 3 }, 7],
  ['2013-12-03', { y: 2026, m: 12, d: 3 }, 13],
  ['2013-12-04', { y: 2026, m: 12, d: 3 }, 12],
  ['2012-02-29', { y: 2025, m: 2, d: 27 }, 12],
  ['2012-02-29', { y: 2025, m: 2, d: 28 }, 13],
  ['2012-02-29', { y: 2028, m: 2, d: 28 }, 15],
  ['2012-02-29', { y: 2028, m: 2, d: 29 }, 16],
] as const) {
  test(`someone born ${birth} is ${age} on ${on.y}-${on.m}-${on.d}`, (t) => {
    t.is(ageOn(birth, on), age);
  });
}

for (const [age, self, guardian, expected] of [
  [3, false, true, null],
  [3, true, false, 'SELF_NOT_ALLOWED'],
  [6, true, false, 'SELF_NOT_ALLOWED'],
  [7, true, false, null],
  [7, false, true, null],
  [12, true, false, null],
  [12, false, true, null],
  [13, true, false, null],
  [13, false, true, 'PROXY_NOT_ALLOWED'],
  [80, false, true, 'PROXY_NOT_ALLOWED'],
  [30, false, false, 'ID_MISMATCH'],
  [3, false, false, 'ID_MISMATCH'],
] as const) {
  test(`age ${age}, claimant ${self ? 'is the beneficiary' : guardian ? 'is a guardian' : 'is neither'}: ${expected ?? 'may collect'}`, (t) => {
    t.is(claimantOutcome(age, self, guardian), expected);
  });
}

for (const [state, paid, amount, expected] of [
  ['AVAILABLE', 0, 600_000, null],
  ['AVAILABLE', 0, 500_000, 'AMOUNT_MISMATCH'],
  ['AVAILABLE', 400_000, 200_000, null],
  ['AVAILABLE', 400_000, 600_000, 'AMOUNT_MISMATCH'],
  ['RESERVED', 0, 600_000, 'IN_PROGRESS'],
  ['PAID', 600_000, 600_000, 'ALREADY_COLLECTED'],
] as const) {
  test(`a withdrawal of ${amount} on a ${state} entitlement with ${paid} paid: ${expected ?? 'may reserve'}`, (t) => {
    t.is(entitlementOutcome({ state, entitledMinor: 600_000, paidMinor: paid, reservedMinor: state === 'RESERVED' ? 600_000 : 0 }, amount), expected);
  });
}

const entry = (over: Partial<RosterEntry> = {}): RosterEntry => ({
  beneficiaryId: '1', superseded: false, isSelf: true, isGuardian: false, birthDate: '1980-05-01',
  payout: { state: 'AVAILABLE', entitledMinor: 600_000, paidMinor: 0, reservedMinor: 0 }, ...over,
});
const facts = (over: Partial<WithdrawalFacts> = {}): WithdrawalFacts => ({
  signedOnBank: '004', acquirer: '004', campaignOpen: true, processingCode: '010000', currency: '901', reversedEarlier: false,
  entry: entry(), atmDate: '1203', now: at('2026-12-03T08:15:30Z'), amountMinor: 600_000, ...over,
});

// Each row breaks two rules; the one earlier in §7 decides.
for (const [name, over, expected] of [
  ['DE32 not the signed-on bank before a closed campaign', { acquirer: '700', campaignOpen: false }, 'NOT_PARTICIPATING'],
  ['a closed campaign before a bad processing code', { campaignOpen: false, processingCode: '000000' }, 'CAMPAIGN_CLOSED'],
  ['a bad processing code before the currency', { processingCode: '000000', currency: '840' }, 'BAD_PROCESSING_CODE'],
  ['the currency before reversed earlier', { currency: '840', reversedEarlier: true }, 'CURRENCY'],
  ['reversed earlier before an unknown card', { reversedEarlier: true, entry: null }, 'REVERSED_EARLIER'],
  ['an unknown card before everything about the beneficiary', { entry: null }, 'UNKNOWN_CARD'],
  ['a superseded card before the claimant', { entry: entry({ superseded: true, isSelf: false }) }, 'SUPERSEDED_CARD'],
  ['the claimant before reserved', { entry: entry({ isSelf: false, payout: { state: 'RESERVED', entitledMinor: 600_000, paidMinor: 0, reservedMinor: 600_000 } }) }, 'ID_MISMATCH'],
  ['reserved before the amount', { amountMinor: 1, entry: entry({ payout: { state: 'RESERVED', entitledMinor: 600_000, paidMinor: 0, reservedMinor: 600_000 } }) }, 'IN_PROGRESS'],
  ['paid before the amount', { amountMinor: 1, entry: entry({ payout: { state: 'PAID', entitledMinor: 600_000, paidMinor: 600_000, reservedMinor: 0 } }) }, 'ALREADY_COLLECTED'],
] as const) {
  test(`check order: ${name}`, (t) => {
    t.is(decideWithdrawal(facts(over as Partial<WithdrawalFacts>)).outcome, expected);
  });
}

test('an inquiry that passes the claimant check is approved with the remaining amount, whatever DE4 says', (t) => {
  const d = decideWithdrawal(facts({ processingCode: '310000', amountMinor: 0, entry: entry({ payout: { state: 'AVAILABLE', entitledMinor: 600_000, paidMinor: 400_000, reservedMinor: 0 } }) }));
  t.deepEqual(d, { outcome: 'APPROVED', inquiry: true, remainingMinor: 200_000 });
});

test('an inquiry shows zero while a withdrawal is reserved and after it is paid', (t) => {
  for (const payout of [
    { state: 'RESERVED', entitledMinor: 600_000, paidMinor: 0, reservedMinor: 600_000 },
    { state: 'PAID', entitledMinor: 600_000, paidMinor: 600_000, reservedMinor: 0 },
  ] as const) {
    t.is(decideWithdrawal(facts({ processingCode: '310000', entry: entry({ payout }) })).remainingMinor, 0);
  }
});

test('an inquiry still runs the claimant check', (t) => {
  t.is(decideWithdrawal(facts({ processingCode: '310000', entry: entry({ isSelf: false }) })).outcome, 'ID_MISMATCH');
});

test('age is judged on the ATM local date across the year boundary: a child turning 7 on 1 January is still 6 on 31 December', (t) => {
  const child = entry({ birthDate: '2020-01-01' });
  // 1 January 2027 00:30 in Taipei, the ATM still says 1231.
  const now = at('2026-12-31T16:30:00Z');
  t.is(decideWithdrawal(facts({ entry: child, now, atmDate: '1231' })).outcome, 'SELF_NOT_ALLOWED');
  t.is(decideWithdrawal(facts({ entry: child, now, atmDate: '0101' })).outcome, 'APPROVED');
});
