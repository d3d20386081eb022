import test from 'ava';
import { Readable } from 'node:stream';
import { freshDatabase, type TestDatabase } from '../helpers/services.ts';
import { ManualClock } from '../../switch/clock.ts';
import { campaignHashKey, createCampaign } from '../../switch/campaigns.ts';
import { hashIdentifier } from '../../switch/roster/hashing.ts';
import { changedBeneficiaryIds, importRoster, ChangeHandlerError, RosterFileError, type ImportOptions } from '../../switch/roster/import.ts';
import { entriesByIds, lookupCard, rosterCards } from '../../switch/roster/store.ts';
import { syntheticRoster } from '../../switch/roster/synthetic.ts';

const KEY = 'test-identity-key';
const HEADER = 'nhi_card_no,id_no,birth_date,guardian_ids';
const clock = new ManualClock('2026-12-03T02:00:00Z');
let tdb: TestDatabase;
let n = 0;

test.before(async () => {
  tdb = await freshDatabase();
});
test.after.always(async () => {
  await tdb?.drop();
});

/** A campaign of its own for each test, so tests run concurrently. */
async function campaign(amountTwd?: number): Promise<string> {
  const code = `C${++n}`;
  await createCampaign(tdb.db, { code, amountTwd });
  return code;
}

function load(code: string, lines: string[], opts: Partial<ImportOptions> = {}) {
  return importRoster(tdb.db, code, Readable.from([lines.join('\n') + '\n']), { identityKey: KEY, clock, ...opts });
}

const hashId = (code: string, id: string) => hashIdentifier(campaignHashKey(KEY, code), 'id', id);
const hashNhi = (code: string, nhi: string) => hashIdentifier(campaignHashKey(KEY, code), 'nhi', nhi);

async function snapshot(code: string) {
  const b = await tdb.db('beneficiaries').where({ campaign_code: code }).orderBy('id')
    .select('id', 'id_hash', 'nhi_hash', tdb.db.raw('birth_date::text'), 'amount_minor', 'guardian_hashes', 'updated_at');
  const c = await tdb.db('nhi_cards').where({ campaign_code: code }).orderBy('nhi_hash');
  return { b, c };
}

const EXAMPLE = [HEADER, '000012345678,A123456789,1980-05-01,', '000012345679,B223456782,2019-02-11,A123456789;F131104093'];

test('loads the operations.md example: hashes of the ID, the card and the guardians, the campaign amount', async (t) => {
  const code = await campaign();
  const s = await load(code, EXAMPLE);
  t.like(s, { rows: 2, accepted: 2, new: 2, updated: 0, unchanged: 0, rejected: 0, rejections: [] });
  const child = await lookupCard(tdb.db, code, hashNhi(code, '000012345679'));
  if (child.status !== 'current') return t.fail(child.status);
  t.deepEqual(child.entry.idHash, hashId(code, 'B223456782'));
  t.is(child.entry.birthDate, '2019-02-11');
  t.is(child.entry.amountMinor, 600_000);
  t.deepEqual(
    child.entry.guardianHashes.map((h) => h.toString('hex')).sort(),
    [hashId(code, 'A123456789'), hashId(code, 'F131104093')].map((h) => h.toString('hex')).sort(),
  );
  t.deepEqual(child.entry.nhiHash, hashNhi(code, '000012345679'));
  t.is((await lookupCard(tdb.db, code, hashNhi(code, '000099999999'))).status, 'unknown');
});

test('bad rows are rejected with their line numbers and reasons, and the other rows load', async (t) => {
  const code = await campaign();
  const s = await load(code, [
    HEADER,
    '000000000001,A123456789,1980-05-01,', // line 2 ok
    '000000000002,A123456788,1980-05-01,', // 3 check digit
    '', // 4 blank: skipped
    '00000000003,B223456782,1980-05-01,', // 5 nhi
    '000000000004,B223456782,2031-01-01,', // 6 future
    '000000000005,B223456782,2019-02-11,B223456782', // 7 own guardian
    '000000000006,B223456782,2019-02-11,A123456789', // 8 ok
    '000000000007,F131104093,1990-01-01', // 9 fields
    '000000000008,"F131104093,1990-01-01,', // 10 quoting
  ]);
  t.like(s, { rows: 8, accepted: 2, new: 2, rejected: 6 });
  t.deepEqual(s.rejections, [
    { line: 3, reason: 'id_no check digit is wrong' },
    { line: 5, reason: 'nhi_card_no must be 12 digits' },
    { line: 6, reason: 'birth_date is in the future' },
    { line: 7, reason: "guardian_ids #1 is the beneficiary's own id_no" },
    { line: 9, reason: 'has 3 fields, the header has 4' },
    { line: 10, reason: 'quoting is broken' },
  ]);
  t.is((await lookupCard(tdb.db, code, hashNhi(code, '000000000006'))).status, 'current');
});

test('importing the same file twice changes nothing', async (t) => {
  const code = await campaign();
  const file = [
    `${HEADER},amount`,
    '000012345678,A123456789,1980-05-01,,',
    '000012345679,B223456782,2019-02-11,A123456789;F131104093,',
    '000012345670,F131104093,1975-07-07,,7000',
    '000012345671,A123456788,1975-07-07,,',
  ];
  const first = await load(code, file);
  t.like(first, { new: 3, rejected: 1 });
  const before = await snapshot(code);
  const again = await load(code, file);
  t.like(again, { rows: 4, accepted: 3, new: 0, updated: 0, unchanged: 3, rejected: 1 });
  t.deepEqual(await snapshot(code), before);
  t.is(before.b.length, 3);
  t.is(before.c.length, 0, 'no card superseded');
});

test('the same guardians in another order are unchanged; a changed birth date, guardian or amount updates the row', async (t) => {
  const code = await campaign();
  await load(code, [`${HEADER},amount`, '000012345679,B223456782,2019-02-11,A123456789;F131104093,']);
  const reordered = await load(code, [`${HEADER},amount`, '000012345679,B223456782,2019-02-11,F131104093;A123456789,']);
  t.like(reordered, { unchanged: 1, updated: 0 });

  const s = await load(code, [`${HEADER},amount`, '000012345679,B223456782,2019-03-11,F131104093,8000']);
  t.like(s, { new: 0, updated: 1, unchanged: 0 });
  const r = await lookupCard(tdb.db, code, hashNhi(code, '000012345679'));
  if (r.status !== 'current') return t.fail(r.status);
  t.is(r.entry.birthDate, '2019-03-11');
  t.is(r.entry.amountMinor, 800_000);
  t.deepEqual(r.entry.guardianHashes, [hashId(code, 'F131104093')]);
});

test('a new card for the same id_no supersedes the old card, which stays known as superseded', async (t) => {
  const code = await campaign();
  await load(code, EXAMPLE);
  const s = await load(code, [HEADER, '000077777777,A123456789,1980-05-01,']);
  t.like(s, { updated: 1, new: 0, rejected: 0 });
  const old = await lookupCard(tdb.db, code, hashNhi(code, '000012345678'));
  const cur = await lookupCard(tdb.db, code, hashNhi(code, '000077777777'));
  t.is(old.status, 'superseded');
  t.is(cur.status, 'current');
  if (old.status === 'unknown' || cur.status === 'unknown') return;
  t.is(old.entry.beneficiaryId, cur.entry.beneficiaryId);
  t.deepEqual(old.entry.nhiHash, hashNhi(code, '000077777777'), 'the entry names the current card');
  const cards = await tdb.db('nhi_cards').where({ campaign_code: code, beneficiary_id: cur.entry.beneficiaryId });
  t.deepEqual(cards.map((c) => c.nhi_hash), [hashNhi(code, '000012345678')], 'the old card is filed as superseded');
  t.true(cards[0].superseded_at instanceof Date);

  // The old card again is refused: a replaced card is not brought back.
  const back = await load(code, [HEADER, '000012345678,A123456789,1980-05-01,']);
  t.like(back, { accepted: 0, rejected: 1 });
  t.deepEqual(back.rejections, [{ line: 2, reason: "nhi_card_no is this person's old card, replaced by a newer one" }]);
  t.is((await lookupCard(tdb.db, code, hashNhi(code, '000077777777'))).status, 'current');
});

test("a card that belongs to another person in the campaign is rejected, current or superseded", async (t) => {
  const code = await campaign();
  await load(code, EXAMPLE);
  await load(code, [HEADER, '000012340000,B223456782,2019-02-11,A123456789;F131104093']); // B's old card 000012345679
  const s = await load(code, [
    HEADER,
    '000012345678,F131104093,1975-07-07,', // A's current card
    '000012345679,Y144766850,1975-07-07,', // B's superseded card
    '000055555555,I215752650,1975-07-07,',
  ]);
  t.like(s, { accepted: 1, new: 1, rejected: 2 });
  t.deepEqual(s.rejections, [
    { line: 2, reason: 'nhi_card_no belongs to another person in the campaign' },
    { line: 3, reason: 'nhi_card_no belongs to another person in the campaign' },
  ]);
});

test('a repeated id_no or NHI number within the file is rejected at every occurrence after the first', async (t) => {
  const code = await campaign();
  const s = await load(code, [
    HEADER,
    '000000000001,A123456789,1980-05-01,',
    '000000000002,B223456782,1980-05-01,',
    '000000000003,A123456789,1980-05-01,', // id of line 2
    '000000000002,F131104093,1980-05-01,', // card of line 3
    '000000000004,F131104093,1980-05-01,', // id of line 5, itself rejected: the file lists this person twice
    '000000000003,Y144766850,1980-05-01,', // card of line 4, which was rejected
  ]);
  t.like(s, { accepted: 2, rejected: 4 });
  t.deepEqual(s.rejections, [
    { line: 4, reason: 'id_no appears on an earlier line (line 2)' },
    { line: 5, reason: 'nhi_card_no appears on an earlier line (line 3)' },
    { line: 6, reason: 'id_no appears on an earlier line (line 5)' },
    { line: 7, reason: 'nhi_card_no appears on an earlier line (line 4)' },
  ]);
  t.is((await lookupCard(tdb.db, code, hashNhi(code, '000000000003'))).status, 'unknown');
});

test('no identifier is stored in clear: not in the roster tables, the card table or the import log', async (t) => {
  const code = await campaign();
  const roster = syntheticRoster({ seed: 5, count: 300 });
  const people = [...roster.people()];
  const s = await importRoster(tdb.db, code, Readable.from(roster.csv(100)), { identityKey: KEY, clock });
  t.is(s.new, 300);
  const p0 = people[0]!;
  const newCard = await load(code, [HEADER, `999999999999,${p0.idNo},${p0.birthDate},${p0.guardianIds.join(';')}`]);
  t.is(newCard.updated, 1, 'a superseded card, so that the card table has a row to look at');
  const forms = (v: string) => [v, Buffer.from(v).toString('hex'), Buffer.from(v).toString('base64')];
  const secrets = new Set(people.flatMap((p) => [p.idNo, p.nhiCardNo, ...p.guardianIds]).flatMap(forms));
  t.true(people.some((p) => p.guardianIds.length > 0));
  for (const table of ['beneficiaries', 'nhi_cards', 'roster_imports']) {
    const { rows } = await tdb.db.raw(`SELECT t::text AS row FROM ${table} t`);
    t.true(rows.length > 0);
    const text = rows.map((r: { row: string }) => r.row).join('\n');
    const found = [...secrets].filter((v) => text.includes(v));
    t.deepEqual(found, [], table);
  }
});

test('refuses a whole file whose header is wrong, and loads nothing', async (t) => {
  const code = await campaign();
  await t.throwsAsync(load(code, ['nhi_card_no,id_no,birth_date', '000012345678,A123456789,1980-05-01']), {
    instanceOf: RosterFileError,
    message: 'line 1: missing column guardian_ids (expected nhi_card_no, id_no, birth_date, guardian_ids[, amount])',
  });
  await t.throwsAsync(importRoster(tdb.db, code, Readable.from(['']), { identityKey: KEY }), { message: /file is empty/ });
  t.is((await tdb.db('beneficiaries').where({ campaign_code: code })).length, 0);
  t.is((await tdb.db('roster_imports').where({ campaign_code: code })).length, 0);
});

test('an unknown or purged campaign is refused; an open one takes the import', async (t) => {
  await t.throwsAsync(load('NOPE', EXAMPLE), { message: 'no campaign "NOPE"' });
  const purged = await campaign();
  await tdb.db('campaigns').where({ code: purged }).update({ state: 'purged' });
  await t.throwsAsync(load(purged, EXAMPLE), { message: `campaign ${purged} is purged: its roster can no longer be changed` });

  const open = await campaign();
  await tdb.db('campaigns').where({ code: open }).update({ state: 'open' }); // the only test here that opens one
  const seen: number[][] = [];
  const s = await load(open, EXAMPLE, { onChanged: (c, ids) => void seen.push(ids) });
  t.is(s.new, 2);
  t.is(seen.flat().length, 2);
});

test('after commit, onChanged gets the ids inserted or changed, and nothing for an unchanged file', async (t) => {
  const code = await campaign();
  const calls: Array<{ code: string; ids: number[] }> = [];
  const onChanged: ImportOptions['onChanged'] = async (c, ids) => {
    // Called after commit: another connection already sees the rows.
    t.is((await entriesByIds(tdb.db, ids)).length, ids.length);
    calls.push({ code: c.code, ids });
  };
  const first = await load(code, EXAMPLE, { onChanged });
  t.is(calls.length, 1);
  t.is(calls[0]!.code, code);
  t.is(calls[0]!.ids.length, 2);

  await load(code, EXAMPLE, { onChanged });
  t.is(calls.length, 1, 'unchanged: no call');

  const changed = await load(code, [...EXAMPLE.slice(0, 2), '000012345679,B223456782,2019-02-12,A123456789;F131104093', '000012345673,F131104093,1970-01-01,'], { onChanged });
  t.like(changed, { new: 1, updated: 1, unchanged: 1 });
  const ids = calls[1]!.ids;
  t.is(ids.length, 2);
  const entries = await entriesByIds(tdb.db, ids);
  t.deepEqual(entries.map((e) => e.birthDate).sort(), ['1970-01-01', '2019-02-12']);
  const again: number[] = [];
  for await (const batch of changedBeneficiaryIds(tdb.db, changed.importId)) again.push(...batch);
  t.deepEqual(again, ids);
  t.not(first.importId, changed.importId);
});

test("a first import's changed ids are its campaign's rows that no later import changed, whatever was inserted meanwhile", async (t) => {
  const ids = async (importId: number) => {
    const all: number[] = [];
    for await (const batch of changedBeneficiaryIds(tdb.db, importId, 2)) all.push(...batch);
    return all;
  };
  const a = await campaign();
  const b = await campaign();
  const fileA = [HEADER, ...[...syntheticRoster({ seed: 21, count: 5 }).csv()].join('').trimEnd().split('\n').slice(1)];
  const fileB = [HEADER, ...[...syntheticRoster({ seed: 22, count: 3 }).csv()].join('').trimEnd().split('\n').slice(1)];
  const firstA = await load(a, [...fileA, fileA[2]!]); // a repeat: held back, rejected
  const firstB = await load(b, fileB);
  t.like(firstA, { new: 5, rejected: 1 });
  const rowsA = (await tdb.db('beneficiaries').where({ campaign_code: a }).orderBy('id').select('id')).map((r) => Number(r.id));
  const rowsB = (await tdb.db('beneficiaries').where({ campaign_code: b }).orderBy('id').select('id')).map((r) => Number(r.id));
  t.deepEqual(await ids(firstA.importId), rowsA);
  t.deepEqual(await ids(firstB.importId), rowsB);
  // Rows held back (with a filter of one word, most of them) are inserted at the end, marked with the import's id: they
  // are its rows all the same.
  const c = await campaign();
  const fileC = [HEADER, ...[...syntheticRoster({ seed: 23, count: 30 }).csv()].join('').trimEnd().split('\n').slice(1)];
  const allHeld = await load(c, fileC, { seenFilterBytes: 4 });
  t.like(allHeld, { new: 30 });
  t.true((await tdb.db('beneficiaries').where({ campaign_code: c, last_import_id: allHeld.importId })).length > 0);
  t.deepEqual(await ids(allHeld.importId), (await tdb.db('beneficiaries').where({ campaign_code: c }).orderBy('id').select('id')).map((r) => Number(r.id)));

  // A later import changes one of A's rows and adds one: they are its own, no longer the first import's.
  const changedLine = fileA[3]!.replace(/,[0-9-]{10},/, ',1950-01-01,');
  const later = await load(a, [...fileA.slice(0, 3), changedLine, ...fileA.slice(4), '000012345678,A123456789,1980-05-01,']);
  t.like(later, { new: 1, updated: 1, unchanged: 4 });
  const [changed] = await lookupByLine(a, changedLine);
  const added = (await tdb.db('beneficiaries').where({ campaign_code: a }).orderBy('id', 'desc').first('id')).id;
  t.deepEqual(await ids(firstA.importId), rowsA.filter((id) => id !== changed));
  t.deepEqual(await ids(later.importId), [changed!, Number(added)].sort((x, y) => x - y));
  t.deepEqual(await ids(firstB.importId), rowsB);
});

async function lookupByLine(code: string, line: string): Promise<number[]> {
  const r = await lookupCard(tdb.db, code, hashNhi(code, line.split(',')[0]!));
  return r.status === 'unknown' ? [] : [r.entry.beneficiaryId];
}

test('a failing onChanged leaves the import committed and reports its summary', async (t) => {
  const code = await campaign();
  const e = await t.throwsAsync(load(code, EXAMPLE, { onChanged: () => Promise.reject(new Error('redis down')) }), {
    instanceOf: ChangeHandlerError,
  });
  t.regex(e!.message, /committed, but passing its changes on failed: redis down$/);
  t.is((e as ChangeHandlerError).summary.new, 2);
  t.is((await tdb.db('beneficiaries').where({ campaign_code: code })).length, 2);
});

test('rejections are all counted, but only the first ones by line are kept', async (t) => {
  const code = await campaign();
  const lines = [HEADER];
  for (let i = 0; i < 50; i++) lines.push(`00000000${String(1000 + i)},A123456788,1980-05-01,`);
  lines.push('000000002000,A123456789,1980-05-01,', '000000002000,B223456782,1980-05-01,'); // a file-level duplicate, line 53
  const s = await load(code, lines, { maxRejectionsKept: 10 });
  t.like(s, { rows: 52, accepted: 1, rejected: 51 });
  t.is(s.rejections.length, 10);
  t.deepEqual(s.rejections.map((r) => r.line), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
});

test('the rows of a roster can be read back in batches with every card, current and superseded', async (t) => {
  const code = await campaign();
  const roster = syntheticRoster({ seed: 11, count: 250 });
  await importRoster(tdb.db, code, Readable.from(roster.csv()), { identityKey: KEY, clock });
  await load(code, [HEADER, `999999999999,${roster.personAt(0).idNo},${roster.personAt(0).birthDate},${roster.personAt(0).guardianIds.join(';')}`]);
  const batches: number[] = [];
  let superseded = 0;
  const cards = new Set<string>();
  for await (const batch of rosterCards(tdb.db, code, 100)) {
    batches.push(batch.length);
    for (const c of batch) {
      cards.add(c.nhiHash.toString('hex'));
      if (c.superseded) superseded++;
    }
  }
  t.deepEqual(batches, [100, 100, 51]);
  t.is(cards.size, 251);
  t.is(superseded, 1);
});

// The import applies a chunk while it reads the next, and holds back for an exact check at the end the rows a
// filter says may repeat an earlier one. Whatever the chunk size and however often the filter errs, the outcome is
// the file's, line by line.
const MIXED_BASE = [
  HEADER,
  '000000000001,A123456789,1980-05-01,',
  '000000000002,B223456782,1981-05-01,',
  '000000000003,F131104093,1982-05-01,',
  '000000000004,Y144766850,1983-05-01,',
];
const MIXED = [
  HEADER,
  '000000000011,I215752650,1990-01-01,', // 2 new
  '000000000001,A123456789,1980-05-01,', // 3 unchanged
  '000000000002,B223456782,1981-06-01,', // 4 updated: birth date
  '000000000033,F131104093,1982-05-01,', // 5 updated: new card (000000000003 superseded)
  '000000000099,D123456782,1970-01-01,', // 6 another person's current card
  '000000000011,Q223456784,1990-01-01,', // 7 card of line 2
  '000000000012,I215752650,1990-01-01,', // 8 id of line 2
  '00000000001X,A223456781,1990-01-01,', // 9 bad card
  '000000000013,R123456783,1970-01-01,', // 10 new (its first appearance with a card of its own)
  '000000000014,R123456783,1970-01-01,', // 11 id of line 10
  '000000000015,L123456788,2020-01-01,R123456783', // 12 new child
  '000000000016,C123456781,1960-01-01,', // 13 new
  '000000000003,C223456783,1960-01-01,', // 14 card superseded by line 5 (applied in the same file): another person's
];

async function mixedOutcome(settings: Partial<ImportOptions>) {
  const code = await campaign();
  await load(code, MIXED_BASE, settings);
  await load(code, [HEADER, '000000000099,Y144766850,1983-05-01,']); // Y's card 000000000004 superseded
  const s = await load(code, [...MIXED, '000000000004,Y144766850,1983-05-01,'], settings); // 15: Y's own old card
  const again = await load(code, MIXED, settings);
  const cards: string[] = [];
  for (let i = 1; i <= 99; i++) {
    const nhi = String(i).padStart(12, '0');
    const r = await lookupCard(tdb.db, code, hashNhi(code, nhi));
    if (r.status !== 'unknown') cards.push(`${nhi} ${r.status} ${r.entry.birthDate} ${r.entry.guardianHashes.length}`);
  }
  const { importId: _1, campaign: _2, ...summary } = s;
  const { importId: _3, campaign: _4, ...summaryAgain } = again;
  return { summary, summaryAgain, cards };
}

test('chunk by chunk, with a filter that errs, or one that says yes to everything: the same outcome', async (t) => {
  const plain = await mixedOutcome({});
  t.like(plain.summary, { rows: 14, new: 4, updated: 2, unchanged: 1, rejected: 7 });
  t.deepEqual(plain.summary.rejections, [
    { line: 6, reason: 'nhi_card_no belongs to another person in the campaign' },
    { line: 7, reason: 'nhi_card_no appears on an earlier line (line 2)' },
    { line: 8, reason: 'id_no appears on an earlier line (line 2)' },
    { line: 9, reason: 'nhi_card_no must be 12 digits' },
    { line: 11, reason: 'id_no appears on an earlier line (line 10)' },
    { line: 14, reason: 'nhi_card_no belongs to another person in the campaign' },
    { line: 15, reason: "nhi_card_no is this person's old card, replaced by a newer one" },
  ]);
  t.like(plain.summaryAgain, { new: 0, updated: 0, unchanged: 7, rejected: 6 });
  t.true(plain.cards.includes('000000000003 superseded 1982-05-01 0'));
  t.true(plain.cards.includes('000000000015 current 2020-01-01 1'));
  for (const settings of [{ chunkRows: 2 }, { chunkRows: 3, seenFilterBytes: 4 }, { chunkRows: 1, seenFilterBytes: 64 }]) {
    t.deepEqual(await mixedOutcome(settings), plain, JSON.stringify(settings));
  }
});

test('a first import into an empty campaign, chunk by chunk with repeats held back: the same rows as at once', async (t) => {
  const roster = syntheticRoster({ seed: 3, count: 120 });
  const lines = [...roster.csv()].join('').trimEnd().split('\n');
  const file = [...lines, lines[5]!, lines[70]!.replace(/^[0-9]{12}/, '777777777777'), lines[7]!.replace(/,[A-Z][0-9A-D][0-9]{8},/, ',A123456789,')];
  const outcome = async (settings: Partial<ImportOptions>) => {
    const code = await campaign();
    const { importId: _1, campaign: _2, ...s } = await load(code, file, settings);
    return s;
  };
  const plain = await outcome({});
  t.like(plain, { rows: 123, new: 120, rejected: 3 });
  t.deepEqual(plain.rejections.map((r) => r.line), [122, 123, 124]);
  t.deepEqual(await outcome({ chunkRows: 7, seenFilterBytes: 4 }), plain);
  t.deepEqual(await outcome({ chunkRows: 50 }), plain);
});

test('a first import into an empty campaign (straight into the roster) stores what an import over a roster does; a re-import then supersedes a changed card', async (t) => {
  const people = syntheticRoster({ seed: 11, count: 30 });
  const rows = [...people.people()];
  const file = [
    `${HEADER},amount`,
    ...rows.map((p, i) => `${p.nhiCardNo},${p.idNo},${p.birthDate},${[...p.guardianIds].reverse().join(';')},${i % 4 === 0 ? 1234 : ''}`),
    `${rows[3]!.nhiCardNo},A123456789,1980-05-01,,`, // a repeated card: held back, then rejected
    '000000000001,A123456788,1980-05-01,,', // a bad check digit
  ];
  /** What the roster says of each person of the file, in clear terms (hashes differ between campaigns). */
  const stored = async (code: string) =>
    Promise.all(rows.map(async (p) => {
      const r = await lookupCard(tdb.db, code, hashNhi(code, p.nhiCardNo));
      if (r.status === 'unknown') return `${p.index} unknown`;
      const guardians = p.guardianIds.map((g) => hashId(code, g).toString('hex')).sort();
      return [
        p.index, r.status, r.entry.idHash.equals(hashId(code, p.idNo)), r.entry.birthDate, r.entry.amountMinor,
        JSON.stringify(r.entry.guardianHashes.map((h) => h.toString('hex'))) === JSON.stringify(guardians),
      ].join(' ');
    }));

  const empty = await campaign();
  const first = await load(empty, file, { chunkRows: 8 });
  const existing = await campaign();
  await load(existing, [HEADER, '000099999999,Y144766850,1975-07-07,']);
  const over = await load(existing, file, { chunkRows: 8 });
  t.like(first, { rows: 32, new: 30, updated: 0, unchanged: 0, rejected: 2 });
  t.deepEqual(first.rejections, [
    { line: 32, reason: `nhi_card_no appears on an earlier line (line 5)` },
    { line: 33, reason: 'id_no check digit is wrong' },
  ]);
  t.deepEqual({ ...over, importId: 0, campaign: '' }, { ...first, importId: 0, campaign: '' });
  const a = await stored(empty);
  t.deepEqual(a, await stored(existing));
  t.true(a.every((line) => / current true \S+ \d+ true$/.test(line)), a.join('\n'));
  t.true(a.includes(`0 current true ${rows[0]!.birthDate} 123400 true`), "the row's own amount");
  t.true(a.includes(`1 current true ${rows[1]!.birthDate} 600000 true`), "the campaign's amount");

  // The same file again: nothing changes. A new card for one person: it is current, the old one superseded.
  t.like(await load(empty, file), { new: 0, updated: 0, unchanged: 30, rejected: 2 });
  const changed = file.map((line, i) => (i === 7 ? line.replace(/^[0-9]{12}/, '000077777777') : line));
  t.like(await load(empty, changed), { new: 0, updated: 1, unchanged: 29, rejected: 2 });
  const old = await lookupCard(tdb.db, empty, hashNhi(empty, rows[6]!.nhiCardNo));
  const cur = await lookupCard(tdb.db, empty, hashNhi(empty, '000077777777'));
  t.is(old.status, 'superseded');
  t.is(cur.status, 'current');
  if (old.status === 'unknown' || cur.status === 'unknown') return;
  t.is(old.entry.beneficiaryId, cur.entry.beneficiaryId);
  t.deepEqual((await tdb.db('nhi_cards').where({ campaign_code: empty })).map((c) => c.nhi_hash), [hashNhi(empty, rows[6]!.nhiCardNo)]);
});

test('a file that fails to read halfway, after chunks were applied, leaves nothing loaded', async (t) => {
  const code = await campaign();
  const lines = [...syntheticRoster({ seed: 9, count: 40 }).csv()].join('');
  async function* broken() {
    yield lines;
    await new Promise((r) => setTimeout(r, 50)); // the chunks are in PostgreSQL by now
    throw new Error('disk gone');
  }
  await t.throwsAsync(importRoster(tdb.db, code, broken(), { identityKey: KEY, clock, chunkRows: 4 }), { message: 'disk gone' });
  t.is((await tdb.db('beneficiaries').where({ campaign_code: code })).length, 0);
  t.is((await tdb.db('roster_imports').where({ campaign_code: code })).length, 0);
  const s = await importRoster(tdb.db, code, Readable.from([lines]), { identityKey: KEY, clock, chunkRows: 4 });
  t.is(s.new, 40, 'and the next import goes through');
});
