// The reports: identifiers never in clear, the HTML page self-contained; and the fixtures the runner is given.
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildTlv, describe } from '../../switch/iso8583/index.ts';
import { renderHtml, scrub, writeReports } from '../../simulators/certify/report.ts';
import { shown, type Report } from '../../simulators/certify/runner.ts';
import {
  buildCertificationRoster,
  fixturesFromRoster,
  FixtureError,
  FixturePool,
  parseFixturesJson,
} from '../../simulators/certify/fixtures.ts';

const NHI = '000012345678';
const ID = 'A123456789';
const PAN = '4000123412341234';

function sampleReport(): Report {
  const request = { mti: '0200', fields: { 2: PAN, 3: '010000', 11: '000042', 48: buildTlv([['NH', NHI], ['ID', ID]]) } };
  return {
    format: 'entitlement-switch-certification/1',
    switch: '127.0.0.1:8583',
    bank: '004',
    mac: false,
    startedAt: '2026-12-03T08:00:00.000Z',
    finishedAt: '2026-12-03T08:00:01.000Z',
    durationMs: 1000,
    totals: { cases: 1, passed: 0, failed: 1, skipped: 0 },
    passed: false,
    cases: [
      {
        name: 'sample-<case>',
        file: 'sample.json',
        description: 'A case whose <b>text</b> needs escaping',
        spec: '§5',
        tags: ['ledger'],
        status: 'failed',
        reason: `step 1: DE48 is ${shown(48, request.fields[48])}`,
        durationMs: 12,
        people: { adult: 'adult' },
        steps: [
          {
            step: 1, kind: 'send', label: 'withdraw', conn: 'main', status: 'failed', startedMs: 1, durationMs: 10,
            request: describe(request), response: describe({ mti: '0210', fields: { 39: '57', 44: 'ID_MISMATCH' } }),
            failures: [`DE2 is ${shown(2, PAN)}, expected ${shown(2, '4000999988887777')}`],
          },
        ],
        // A line that slipped through unmasked (say a log line of another component): the writer masks it anyway.
        transcript: [{ atMs: 3, conn: 'main', dir: 'note', text: `someone logged ${NHI} and ${ID}` }],
      },
    ],
  };
}

test('reports never hold an NHI number, ID number or card number in clear', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'certify-report-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const files = await writeReports(sampleReport(), dir, [NHI, ID]);
  for (const file of [files.json, files.html]) {
    const text = await readFile(file, 'utf8');
    for (const clear of [NHI, ID, PAN, '4000999988887777']) t.false(text.includes(clear), `${clear} in ${path.basename(file)}`);
    t.true(text.includes('********5678'), 'the NHI number shows its last 4 digits only');
    t.true(text.includes('400012******1234'), 'the card number shows its first 6 and last 4 digits only');
  }
  const json = JSON.parse(await readFile(files.json, 'utf8')) as Report;
  t.is(json.cases[0]!.name, 'sample-<case>');
  t.is(json.files!.html, files.html);
});

test('the HTML report is self-contained: inline CSS, no scripts, no external assets, text escaped', (t) => {
  const html = renderHtml(sampleReport());
  t.regex(html, /^<!doctype html>/);
  t.regex(html, /<style>[^<]+<\/style>/);
  t.notRegex(html, /<script|<link|<img|<iframe|@import|url\(/i);
  t.notRegex(html, /(src|href)="(?!#)/i, 'only in-page links');
  t.notRegex(html, /https?:\/\//);
  t.true(html.includes('sample-&lt;case&gt;'));
  t.false(html.includes('<b>text</b>'));
  t.true(html.includes('Not certified: 1 failed, 0 skipped of 1'));
});

test('messages and failures are masked by describe() before any scrubbing', (t) => {
  const r = sampleReport();
  r.cases[0]!.transcript = [];
  const html = renderHtml(r);
  const json = JSON.stringify(r);
  for (const clear of [NHI, ID, PAN]) {
    t.false(html.includes(clear), clear);
    t.false(json.includes(clear), clear);
  }
});

test('scrub masks only identifiers long enough to be one', (t) => {
  t.is(scrub(`x ${NHI} y ${ID} z 0042`, [NHI, ID, '0042']), 'x ********5678 y A********* z 0042');
});

test('a certification roster gives every kind of person, and the same people as fixtures', (t) => {
  const r = buildCertificationRoster({ seed: 7, counts: { adult: 3, child_under_7: 1, minor_7_to_12: 1, teen_with_guardian: 1, superseded: 2 } });
  const pool = r.pool();
  t.deepEqual(
    ['adult', 'child_under_7', 'minor_7_to_12', 'teen_with_guardian', 'superseded'].map((k) => pool.available(k as never)),
    [3, 1, 1, 1, 2],
  );
  const sup = pool.take('superseded');
  t.not(sup.oldNhi, sup.nhi);
  t.true(r.rosterCsv.includes(sup.oldNhi!) && r.updateCsv.includes(sup.nhi));
  t.is(pool.available('superseded'), 1, 'a person is handed out once');
  // The roster CSV read back as fixtures gives the same roles.
  const again = fixturesFromRoster(r.rosterCsv, { updateCsv: r.updateCsv });
  t.is(again.available('adult'), 3);
  t.is(again.available('superseded'), 2);
  t.is(again.available('child_under_7'), 1);
  t.is(again.take('child_under_7').guardianId, pool.take('child_under_7').guardianId);
});

test('a pool refuses a person it cannot use and says which kind ran out', (t) => {
  t.throws(() => new FixturePool([{ kind: 'child_under_7', nhi: NHI, id: ID, amountTwd: 6000 }]), { instanceOf: FixtureError, message: /needs guardian_id/ });
  const pool = new FixturePool([]);
  t.throws(() => pool.take('adult'), { message: /no adult left in the fixtures/ });
});

test('a fixtures JSON file is checked person by person', (t) => {
  t.throws(() => parseFixturesJson('[', 'f.json'), { message: /^f\.json: not JSON/ });
  t.throws(() => parseFixturesJson('{"people": [{"role": "adult", "nhi": "12", "id": "A123456789"}]}', 'f.json'), { message: /f\.json: people\[0\]: nhi must be 12 digits/ });
  t.throws(() => parseFixturesJson('{"people": [{"role": "adult", "nhi": "000012345678", "id": "A123456788"}]}', 'f.json'), { message: /id is not a valid ID number/ });
  const pool = parseFixturesJson(JSON.stringify({ campaign: 'C1', amount_twd: 5000, people: [{ role: 'adult', nhi: NHI, id: ID }] }));
  t.is(pool.campaign, 'C1');
  t.is(pool.take('adult').amountTwd, 5000);
});
