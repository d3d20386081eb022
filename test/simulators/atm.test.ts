import test from 'ava';
import { OUTCOMES } from '../../switch/handlers/outcomes.ts';
import { respond } from '../../switch/handlers/respond.ts';
import { silentLogger } from '../../switch/log.ts';
import { ManualClock } from '../../switch/clock.ts';
import { BANK_OUTCOMES } from '../../simulators/bank/atm-protocol.ts';
import { AtmGateway } from '../../simulators/bank/gateway.ts';
import { BankHost } from '../../simulators/bank/host.ts';
import { BANK_SCREENS, CODE_SCREENS, SWITCH_SCREENS, screenFor, DISPENSE_SCREENS } from '../../simulators/atm/screens.ts';
import { ageOn, claimantFor, parseRoster, type Person } from '../../simulators/atm/people.ts';
import { formatSummary, percentile, reconcile, runLoad } from '../../simulators/atm/load.ts';
import { Prng } from '../../simulators/atm/prng.ts';
import { ScriptedSwitch, approve } from './helpers/scripted-switch.ts';
import { startedHost, tempDir } from './helpers/fixtures.ts';
import type { IsoMessage } from '../../switch/iso8583/index.ts';

const tmp = await tempDir();
const cleanups: Array<() => Promise<unknown> | void> = [];
test.after.always(async () => {
  for (const c of cleanups.reverse()) await c();
  await tmp.remove();
});

const HAN = /[\u4e00-\u9fff]/;

test('every response code and reason token of the partner interface has a screen in Traditional Chinese and English', (t) => {
  for (const [token, o] of Object.entries(OUTCOMES)) {
    const s = SWITCH_SCREENS[token as keyof typeof SWITCH_SCREENS];
    t.truthy(s, `no screen for ${token}`);
    t.regex(s.zh, HAN, `${token} zh`);
    t.regex(s.en, /^[\x20-\x7e’]+$/, `${token} en`);
    t.truthy(CODE_SCREENS[o.rc], `no screen for code ${o.rc}`);
    t.deepEqual(screenFor(o.rc, o.reason), s);
  }
  t.is(Object.keys(SWITCH_SCREENS).length, Object.keys(OUTCOMES).length);
});

test('every answer the bank gives itself (55, 57, 14, 68, 91, 30) has a screen in both languages', (t) => {
  for (const [token, o] of Object.entries(BANK_OUTCOMES)) {
    const s = BANK_SCREENS[token as keyof typeof BANK_SCREENS];
    t.regex(s.zh, HAN, token);
    t.true(s.en.length > 0, token);
    t.truthy(CODE_SCREENS[o.rc], `no screen for code ${o.rc}`);
    t.deepEqual(screenFor(o.rc, o.reason), s);
  }
  for (const code of ['55', '57', '68']) t.regex(CODE_SCREENS[code]!.zh, HAN);
});

test('a code without a known token falls back to the code’s screen; screens after approval name the amounts', (t) => {
  t.deepEqual(screenFor('57', null), CODE_SCREENS['57']);
  t.deepEqual(screenFor('65', 'SOMETHING_NEW'), CODE_SCREENS['65']);
  t.regex(screenFor('77', null).en, /could not be completed/);
  t.is(DISPENSE_SCREENS.partial(4000, 6000).en, 'Machine fault: only NT$4,000 of NT$6,000 was paid. The rest has been returned to you and can be collected again.');
  t.regex(DISPENSE_SCREENS.full(6000).zh, /6,000/);
});

test('the claimant follows the age rule: a guardian under 7, the beneficiary from 7', (t) => {
  const child: Person = { nhi: '000012345679', id: 'B223456782', birthDate: '2019-02-11', guardians: ['A123456789', 'F131104093'], amountTwd: null };
  t.is(ageOn('2019-02-11', '2026-02-10'), 6);
  t.is(ageOn('2019-02-11', '2026-02-11'), 7);
  t.is(claimantFor(child, '2026-02-10'), 'A123456789');
  t.is(claimantFor(child, '2026-02-11'), 'B223456782');
});

test('the roster reader takes the operations.md format and names the rows it skips', (t) => {
  const { people, skipped } = parseRoster(
    'nhi_card_no,id_no,birth_date,guardian_ids,amount\n000012345678,A123456789,1980-05-01,,\n000012345679,B223456782,2019-02-11,A123456789;F131104093,3000\n12345,A123456789,1980-05-01,,\n',
  );
  t.is(people.length, 2);
  t.deepEqual(people[1], { nhi: '000012345679', id: 'B223456782', birthDate: '2019-02-11', guardians: ['A123456789', 'F131104093'], amountTwd: 3000 });
  t.deepEqual(skipped, ['line 4: nhi_card_no is not 12 digits']);
  t.throws(() => parseRoster('nhi,id\n', 'r.csv'), { message: /^r\.csv: line 1: header must name/ });
});

test('percentiles are nearest-rank', (t) => {
  const v = Array.from({ length: 100 }, (_, i) => i + 1);
  t.is(percentile(v, 50), 50);
  t.is(percentile(v, 90), 90);
  t.is(percentile(v, 99), 99);
  t.is(percentile([7], 99), 7);
});

test('the seeded generator repeats itself for the same seed', (t) => {
  const a = new Prng(42);
  const b = new Prng(42);
  const xs = Array.from({ length: 5 }, () => a.pick({ full: 5, none: 1, partial: 1 }));
  t.deepEqual(Array.from({ length: 5 }, () => b.pick({ full: 5, none: 1, partial: 1 })), xs);
  t.notDeepEqual(Array.from({ length: 20 }, () => new Prng(7).next()), Array.from({ length: 20 }, () => new Prng(8).next()));
});

test('reconciliation says equal, or by how much the ledger differs', (t) => {
  t.deepEqual(reconcile(10_000, 10_000), { status: 'equal', differenceTwd: 0 });
  t.deepEqual(reconcile(10_000, 12_000), { status: 'differs', differenceTwd: 2_000 });
  t.deepEqual(reconcile(10_000, null), { status: 'unavailable', differenceTwd: 0 });
});

// A tiny seeded load straight to the (scripted) switch: a gateway with no cards, as when the ATMs drive the switch
// signed on as a bank. The double declines every third person with 65 and keeps its own paid total.
function roster(n: number): Person[] {
  return Array.from({ length: n }, (_, i) => ({
    nhi: String(100_000 + i).padStart(12, '0'),
    id: `A1${String(10_000_000 + i).slice(-8)}`,
    birthDate: '1980-01-01',
    guardians: [],
    amountTwd: null,
  }));
}

async function loadRig(): Promise<{ sw: ScriptedSwitch; host: BankHost; gateway: AtmGateway }> {
  let n = 0;
  const sw = await ScriptedSwitch.start({ on0200: (m) => (++n % 3 === 0 ? respond(m, 'ALREADY_COLLECTED', { 15: '1203' }) : (approve(m, sw) as IsoMessage)) });
  cleanups.push(() => sw.close());
  const host = await startedHost(sw, tmp.dir, { connections: 2 });
  cleanups.push(() => host.close(0));
  return { sw, host, gateway: new AtmGateway(host, { cards: null, logger: silentLogger }) };
}

test('a seeded load run counts every attempt by code and reconciles the cash dispensed with the ledger', async (t) => {
  const { sw, host, gateway } = await loadRig();
  const summary = await runLoad({
    terminals: 3,
    backendFor: () => gateway,
    people: roster(12),
    duration_s: 30,
    max_attempts: 12,
    seed: 7,
    outcomes: { full: 6, partial: 2, none: 1, cancel: 1 },
    settle: async () => void (await host.drainQueue(2_000)),
    ledgerPaidTwd: async () => sw.paidTwd,
  });
  t.is(summary.attempts, 12);
  t.is(summary.counts['00']! + summary.counts['65']!, 12);
  t.is(summary.counts['65'], 4);
  t.is(summary.approvals, 8);
  t.is(summary.outcomes.declined, 4);
  t.is(sw.of('0200').length, 12);
  const expected = summary.outcomes.full * 6_000;
  t.true(summary.dispensedTwd >= expected);
  t.is(summary.ledgerPaidTwd, summary.dispensedTwd);
  t.deepEqual(summary.reconciliation, { status: 'equal', differenceTwd: 0 });
  t.truthy(summary.latencyMs);
  t.true(summary.latencyMs!.p50 <= summary.latencyMs!.p99 && summary.latencyMs!.p99 <= summary.latencyMs!.max);
  const lines = formatSummary(summary);
  t.regex(lines[1]!, /^response codes: 00=8 65=4$/);
  t.regex(lines.at(-1)!, /: equal$/);
});

test('the same seed draws the same people and outcomes', async (t) => {
  const runs = [];
  for (let i = 0; i < 2; i++) {
    const { sw, host, gateway } = await loadRig();
    const s = await runLoad({
      terminals: 1,
      backendFor: () => gateway,
      people: roster(5),
      duration_s: 30,
      max_attempts: 6,
      seed: 99,
      outcomes: { full: 1, partial: 1, none: 1 },
      settle: async () => void (await host.drainQueue(2_000)),
      ledgerPaidTwd: async () => sw.paidTwd,
    });
    runs.push({ outcomes: s.outcomes, dispensed: s.dispensedTwd, people: sw.of('0200').map((m) => m.fields[48]) });
  }
  t.deepEqual(runs[0], runs[1]);
});

test('a ledger that paid more than the ATMs dispensed is reported with the difference', async (t) => {
  const { sw, host, gateway } = await loadRig();
  const summary = await runLoad({
    terminals: 2,
    backendFor: () => gateway,
    people: roster(4),
    duration_s: 30,
    max_attempts: 2,
    seed: 1,
    settle: async () => void (await host.drainQueue(2_000)),
    ledgerPaidTwd: async () => sw.paidTwd + 6_000,
  });
  t.deepEqual(summary.reconciliation, { status: 'differs', differenceTwd: 6_000 });
  t.regex(formatSummary(summary).at(-1)!, /differs by NT\$6,000 \(ledger higher\)$/);
});

test('a load run stops at its duration and at its rate', async (t) => {
  const { gateway } = await loadRig();
  const summary = await runLoad({ terminals: 4, backendFor: () => gateway, people: roster(50), duration_s: 0.3, rate_per_s: 20, seed: 3 });
  // 20/s for 0.3 s: tickets at 0, 50, …, 250 ms → at most 6 attempts.
  t.true(summary.attempts <= 6, `attempts ${summary.attempts}`);
  t.true(summary.attempts >= 1);
  t.is(summary.reconciliation.status, 'unavailable');
  t.regex(formatSummary(summary).at(-1)!, /ledger paid total not available$/);
});

test('load refuses unbounded settings with a one-line reason', async (t) => {
  await t.throwsAsync(runLoad({ terminals: 0, backendFor: () => null as never, people: roster(1), duration_s: 1 }), { message: 'terminals must be 1 to 1000' });
  await t.throwsAsync(runLoad({ terminals: 1, backendFor: () => null as never, people: roster(1), duration_s: 0 }), { message: /^duration must be/ });
  await t.throwsAsync(runLoad({ terminals: 1, backendFor: () => null as never, people: [], duration_s: 1 }), { message: 'the roster has no people to draw from' });
});

test('the terminal uses the ATM’s local Taipei date and time (DE12/DE13) in the 0200', async (t) => {
  const sw = await ScriptedSwitch.start();
  cleanups.push(() => sw.close());
  const clock = new ManualClock('2026-12-03T17:30:12Z');
  const host = await startedHost(sw, tmp.dir, { clock });
  cleanups.push(() => host.close(0));
  const { AtmTerminal } = await import('../../simulators/atm/terminal.ts');
  const term = new AtmTerminal({ terminalId: 'ATM00001', backend: new AtmGateway(host, { cards: null, logger: silentLogger }), clock });
  await term.inquire({ nhi: '000012345678', claimantId: 'A123456789' });
  const m = sw.of('0200')[0]!;
  t.is(m.fields[3], '310000');
  t.is(m.fields[7], '1203173012');
  t.is(m.fields[12], '013012');
  t.is(m.fields[13], '1204');
  t.is(m.fields[37], '633801000001'.slice(0, 6) + m.fields[11]);
});

test('a load through a card-checking bank uses each claimant’s own card, a guardian’s for a young child, and skips claimants without one', async (t) => {
  const sw = await ScriptedSwitch.start();
  cleanups.push(() => sw.close());
  const host = await startedHost(sw, tmp.dir);
  cleanups.push(() => host.close(0));
  const { CardFile, syntheticCard } = await import('../../simulators/bank/cards.ts');
  const holders = ['A123456789', 'F131104093'];
  const cards = new CardFile(holders.map((id) => syntheticCard('004', id)));
  const gateway = new AtmGateway(host, { cards, logger: silentLogger });
  const people: Person[] = [
    { nhi: '000000000001', id: 'A123456789', birthDate: '1980-01-01', guardians: [], amountTwd: null },
    { nhi: '000000000002', id: 'B223456782', birthDate: new Date().toISOString().slice(0, 4) + '-01-01', guardians: ['F131104093'], amountTwd: 3000 },
    { nhi: '000000000003', id: 'C123456780', birthDate: '1990-01-01', guardians: [], amountTwd: null },
  ];
  const s = await runLoad({
    terminals: 1,
    backendFor: () => gateway,
    people,
    cardFor: (id) => {
      const c = holders.includes(id) ? syntheticCard('004', id) : null;
      return c && { card: c.card, pin: c.pin };
    },
    duration_s: 30,
    max_attempts: 3,
    settle: async () => void (await host.drainQueue(2_000)),
    ledgerPaidTwd: async () => sw.paidTwd,
  });
  t.is(s.skippedNoCard, 1);
  t.is(s.attempts, 2);
  t.deepEqual(s.counts, { '00': 2 });
  t.is(s.dispensedTwd, 9_000);
  t.is(s.reconciliation.status, 'equal');
  const claimants = sw.of('0200').map((m) => m.fields[48]!.slice(-10)).sort();
  t.deepEqual(claimants, ['A123456789', 'F131104093']);
});
