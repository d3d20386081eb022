// The scenario loader: the bundled files load and cover the interface; a malformed file is refused with one line
// naming the file, the step and the problem.
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadScenarios, parseScenario, ScenarioError } from '../../simulators/certify/scenario.ts';
import { OUTCOMES } from '../../switch/handlers/outcomes.ts';

const base = {
  name: 'sample',
  description: 'a sample',
  spec: '§4',
  needs: { people: { adult: 'adult' } },
  steps: [{ send: 'withdrawal', id: 'w', expect: { equals: { 39: '00' } } }, { send: 'confirmation', of: 'w' }],
};

function load(doc: unknown): ReturnType<typeof parseScenario> {
  return parseScenario(typeof doc === 'string' ? doc : JSON.stringify(doc), 'sample.json');
}

function refused(t: ExecutionContext, doc: unknown, pattern: RegExp): void {
  const e = t.throws(() => load(doc), { instanceOf: ScenarioError });
  t.regex(e!.message, pattern);
  t.regex(e!.message, /^sample\.json: /);
}

test('the bundled scenario files load, at least 30 of them, with unique names', (t) => {
  const all = loadScenarios();
  t.true(all.length >= 30);
  t.is(new Set(all.map((s) => s.name)).size, all.length);
});

test('the bundled scenarios expect every response code and reason token of the interface', (t) => {
  const text = JSON.stringify(loadScenarios());
  for (const [name, o] of Object.entries(OUTCOMES)) {
    if (name === 'SYSTEM' || name === 'UNAVAILABLE') continue; // 96 and 91 UNAVAILABLE need a broken switch
    t.true(text.includes(`"39":"${o.rc}"`), `39=${o.rc}`);
    if (o.reason) t.true(text.includes(`"44":"${o.reason}"`), `44=${o.reason}`);
  }
  for (const mti of ['0800', '0200', '0220', '0221', '0420', '0421']) t.true(text.includes(`"mti":"${mti}"`), mti);
});

test('a well-formed scenario loads: base fields, attributes and overrides are resolved', (t) => {
  const s = load(base);
  t.is(s.steps.length, 2);
  const confirm = s.steps[1]!;
  if (confirm.kind !== 'send') return t.fail();
  t.is(confirm.message.mti, '0220');
  t.is(confirm.message.fields[90], '{{de90 step=w}}');
  t.is(confirm.message.fields[3], '{{step.w.request.3}}');
  t.deepEqual(s.setup, { connect: true, signOn: true });
  t.true(s.needs.ledger === false && s.needs.bankMac === false);
});

test('refuses a file that is not JSON', (t) => {
  refused(t, '{"name": ', /not valid JSON/);
});

test('refuses unknown keys, naming where', (t) => {
  refused(t, { ...base, colour: 'red' }, /scenario: unknown key "colour"/);
  refused(t, { ...base, steps: [{ send: 'echo', expcet: {} }] }, /steps\[1\] \(send\): unknown key "expcet"/);
  refused(t, { ...base, steps: [{ send: 'echo', expect: { equal: {} } }] }, /steps\[1\]\.expect: unknown key "equal"/);
});

test('refuses missing name, description or steps', (t) => {
  const { name: _n, ...noName } = base;
  refused(t, noName, /"name" is required/);
  refused(t, { ...base, steps: [] }, /steps: must be a non-empty list/);
});

test('refuses a step with no kind or two kinds, and an unknown action', (t) => {
  refused(t, { ...base, steps: [{ label: 'x' }] }, /steps\[1\]: must have exactly one of send, raw, repeat, action/);
  refused(t, { ...base, steps: [{ send: 'echo', raw: '00' }] }, /exactly one of/);
  refused(t, { ...base, steps: [{ action: 'explode' }] }, /steps\[1\]\.action: must be one of connect/);
});

test('refuses an unknown base, a bad MTI and a field key that is not a field number', (t) => {
  refused(t, { ...base, steps: [{ send: 'withdrawl' }] }, /unknown base "withdrawl"/);
  refused(t, { ...base, steps: [{ send: { mti: '02x0', fields: {} } }] }, /steps\[1\]\.mti: must be 4 digits/);
  refused(t, { ...base, steps: [{ send: 'echo', fields: { DE39: '00' } }] }, /key "DE39" is not a field number/);
  refused(t, { ...base, steps: [{ send: 'echo', fields: { 39: 0 } }] }, /steps\[1\]\.fields\.39: must be a string/);
});

test('refuses references to steps that do not exist, to itself, or to a later response', (t) => {
  refused(t, { ...base, steps: [{ send: 'confirmation', of: 7 }] }, /steps\[1\]\.of: there is no step "7"/);
  refused(t, { ...base, steps: [{ send: 'confirmation' }] }, /base "confirmation" needs "of"/);
  refused(t, { ...base, steps: [{ send: 'echo' }, { repeat: 3 }] }, /steps\[2\]\.repeat: there is no step "3"/);
  refused(t, { ...base, steps: [{ send: 'echo', expect: { same_as: 1 } }] }, /a step cannot refer to itself/);
  refused(
    t,
    { ...base, steps: [{ send: 'echo', fields: { 11: '{{step.2.response.11}}' } }, { send: 'echo' }] },
    /steps\[1\]: DE11: .*the response of step "2" is not known yet/,
  );
  refused(t, { ...base, steps: [{ action: 'wait', ms: 5 }, { action: 'await', steps: [1] }] }, /step "1" does not send a message/);
});

test('refuses unknown placeholders, undeclared roles and bad helper arguments', (t) => {
  refused(t, { ...base, steps: [{ send: 'echo', fields: { 11: '{{stna}}' } }] }, /unknown placeholder \{\{stna\}\}/);
  refused(t, { ...base, steps: [{ send: 'echo', fields: { 11: '{{stan' } }] }, /unbalanced/);
  refused(t, { ...base, steps: [{ send: 'withdrawal', person: 'kid' }] }, /steps\[1\]\.person: role "kid" is not declared/);
  refused(t, { ...base, steps: [{ send: 'echo', fields: { 48: '{{person.kid.nhi}}' } }] }, /role "kid" is not declared/);
  refused(t, { ...base, steps: [{ send: 'echo', fields: { 4: '{{amount twd=six}}' } }] }, /twd must be whole TWD/);
  refused(t, { ...base, steps: [{ send: 'withdrawal', claimant: 'mother' }] }, /claimant: must be one of self, guardian, random, none/);
  refused(t, { ...base, needs: {}, steps: [{ send: 'withdrawal' }] }, /\{\{de48\}\} needs a person/);
});

test('refuses bad expectations: absent and expected at once, a bad regular expression, a bad kind of person', (t) => {
  refused(t, { ...base, steps: [{ send: 'echo', expect: { present: [38], absent: [38] } }] }, /DE38 cannot be both absent and expected/);
  refused(t, { ...base, steps: [{ send: 'echo', expect: { matches: { 38: '([' } } }] }, /matches\.38: not a regular expression/);
  refused(t, { ...base, steps: [{ send: 'echo', expect_none_ms: 10, expect: {} }] }, /at most one of expect, expect_none_ms/);
  refused(t, { ...base, needs: { people: { adult: 'grown-up' } } }, /needs\.people\.adult: kind must be one of adult/);
  refused(t, { ...base, steps: [{ raw: 'zz' }] }, /raw: must be hex bytes/);
  refused(t, { ...base, steps: [{ raw: '0000', expect: {} }] }, /expect\.mti: required for raw bytes/);
});

test('refuses a step on a connection that no step opened', (t) => {
  refused(t, { ...base, steps: [{ send: 'echo', conn: 'second' }] }, /connection "second" is not opened by an earlier connect step/);
});

test('refuses a directory with two scenarios of the same name, naming both files', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'certify-scen-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'a.json'), JSON.stringify(base));
  await writeFile(path.join(dir, 'b.json'), JSON.stringify(base));
  const e = t.throws(() => loadScenarios(dir), { instanceOf: ScenarioError });
  t.regex(e!.message, /b\.json: name "sample" is already used by .*a\.json/);
});
