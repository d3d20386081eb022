// The in-process copy of a campaign's roster answers exactly as the PostgreSQL roster read (readBatch) does.
// Real PostgreSQL: rosters are inserted as the import leaves them (keyed hashes), and compared with readBatch's answers.
import test from 'ava';
import { readBatch, type ReadQuery } from '../../switch/ledger/journal.ts';
import { LEDGER_LIMITS } from '../../switch/ledger/limits.ts';
import { withConnection } from '../../switch/ledger/pg.ts';
import { RosterIndex, RosterIndexTooLarge, type IndexedEntry } from '../../switch/ledger/roster-index.ts';
import { campaignKey, hashIdentifier } from '../../switch/roster/hashing.ts';
import { Fixture, IDENTITY_KEY, adult, idNo, nhi, type Person } from './fixture.ts';

let f: Fixture;

test.before(async () => {
  f = await Fixture.create();
  // Migration 008 adds it; until it lands the test makes it itself, the same way.
  await f.db.raw(`CREATE TABLE IF NOT EXISTS roster_version (one boolean PRIMARY KEY DEFAULT true CHECK (one), version bigint NOT NULL)`);
  await f.db.raw(`INSERT INTO roster_version (version) VALUES (1) ON CONFLICT DO NOTHING`);
});

test.after.always(async () => {
  await f?.destroy();
});

const nhiHash = (code: string, n: string) => hashIdentifier(campaignKey(IDENTITY_KEY, code), 'nhi', n);
const idHash = (code: string, id: string) => hashIdentifier(campaignKey(IDENTITY_KEY, code), 'id', id);

function child(guardians: string[], extra: Partial<Person> = {}): Person {
  return adult({ birth: '2019-02-28', guardians, ...extra });
}

async function beneficiaryId(code: string, person: Person): Promise<string> {
  const r = await f.db('beneficiaries').where({ campaign_code: code, id_hash: idHash(code, person.id) }).first('id');
  return String(r.id);
}

/** What readBatch (the PostgreSQL roster read) answers for each query, in the index's terms. */
async function fromPostgres(code: string, queries: Array<{ nhi: Buffer; claimant: Buffer }>): Promise<Array<IndexedEntry | null>> {
  const items: ReadQuery[] = queries.map((q, i) => ({ seen: { cls: '0200', key: `roster-index-${code}-${i}`, hash: Buffer.alloc(32) }, campaign: code, nhiHash: q.nhi, claimantHash: q.claimant }));
  const out: Array<IndexedEntry | null> = [];
  for (let i = 0; i < items.length; i += LEDGER_LIMITS.READ_MAX_BATCH) {
    const batch = items.slice(i, i + LEDGER_LIMITS.READ_MAX_BATCH);
    const results = await withConnection(f.db, 'roster read', Date.now() + 10_000, (q) => readBatch(q, batch));
    for (const { entry: e, payoutStored } of results) {
      // PostgreSQL always reads the payout (stored, or the entitlement before its row exists).
      if (e && !e.payout) throw new Error('readBatch read an entry without a payout');
      out.push(
        e && {
          beneficiaryId: e.beneficiaryId, superseded: e.superseded, isSelf: e.isSelf, isGuardian: e.isGuardian,
          birthDate: e.birthDate, amountMinor: e.payout!.entitledMinor, payoutStored,
        },
      );
    }
  }
  return out;
}

test('the beneficiary claiming with its own ID is self; with its guardian\'s ID, a guardian; with the entry\'s birth date and amount', async (t) => {
  const parent = adult({ birth: '1979-12-31', amountMinor: 600_000 });
  const kid = child([parent.id], { birth: '2020-02-29', amountMinor: 450_000 });
  await f.campaign('SG', [parent, kid], { open: false });
  const index = await RosterIndex.load(f.db, 'SG');
  t.is(index.campaign, 'SG');
  t.is(index.size, 2);

  t.deepEqual(index.lookup(nhiHash('SG', parent.nhi), idHash('SG', parent.id)), {
    beneficiaryId: await beneficiaryId('SG', parent), superseded: false, isSelf: true, isGuardian: false,
    birthDate: '1979-12-31', amountMinor: 600_000, payoutStored: false,
  } satisfies IndexedEntry);
  t.deepEqual(index.lookup(nhiHash('SG', kid.nhi), idHash('SG', parent.id)), {
    beneficiaryId: await beneficiaryId('SG', kid), superseded: false, isSelf: false, isGuardian: true,
    birthDate: '2020-02-29', amountMinor: 450_000, payoutStored: false,
  } satisfies IndexedEntry);
  t.like(index.lookup(nhiHash('SG', kid.nhi), idHash('SG', kid.id)), { isSelf: true, isGuardian: false }, 'a child claiming for itself is self');
});

test('a claimant who is neither the beneficiary nor a guardian is neither self nor guardian, whatever the hash\'s length', async (t) => {
  const parent = adult();
  const kid = child([parent.id]);
  await f.campaign('ST', [parent, kid], { open: false });
  const index = await RosterIndex.load(f.db, 'ST');
  const stranger = idHash('ST', idNo());
  t.like(index.lookup(nhiHash('ST', kid.nhi), stranger), { isSelf: false, isGuardian: false });
  t.like(index.lookup(nhiHash('ST', parent.nhi), idHash('ST', kid.id)), { isSelf: false, isGuardian: false }, 'the child is not its parent\'s guardian');
  t.like(index.lookup(nhiHash('ST', kid.nhi), idHash('ST', parent.id).subarray(0, 8)), { isSelf: false, isGuardian: false });
  t.like(index.lookup(nhiHash('ST', kid.nhi), Buffer.alloc(0)), { isSelf: false, isGuardian: false });
});

test('an unknown card is not in the copy: null, as is a card of another campaign and a hash of another length', async (t) => {
  const p = adult();
  await f.campaign('UK', [p], { open: false });
  await f.campaign('UK2', [adult()], { open: false });
  const index = await RosterIndex.load(f.db, 'UK');
  t.is(index.lookup(nhiHash('UK', nhi()), idHash('UK', p.id)), null);
  t.is(index.lookup(nhiHash('UK2', p.nhi), idHash('UK', p.id)), null, 'the same card number under another campaign\'s key');
  t.is(index.lookup(nhiHash('UK', p.nhi).subarray(0, 15), idHash('UK', p.id)), null);
  t.is(index.lookup(Buffer.concat([nhiHash('UK', p.nhi), Buffer.alloc(1)]), idHash('UK', p.id)), null);
  t.not(index.lookup(nhiHash('UK', p.nhi), idHash('UK', p.id)), null);
});

test('a replaced card is found as superseded, with its holder\'s id and data; the new card is current', async (t) => {
  const p = adult({ birth: '1950-01-02', amountMinor: 700_000 });
  const [first, second, third] = [p.nhi, nhi(), nhi()];
  await f.campaign('SU', [p, adult()], { open: false });
  await f.replaceCard('SU', first, second);
  await f.replaceCard('SU', second, third);
  const index = await RosterIndex.load(f.db, 'SU');
  t.is(index.size, 4, 'two current cards and two superseded ones');
  const id = await beneficiaryId('SU', p);
  const holder = { beneficiaryId: id, isSelf: true, isGuardian: false, birthDate: '1950-01-02', amountMinor: 700_000, payoutStored: false };
  t.deepEqual(index.lookup(nhiHash('SU', first), idHash('SU', p.id)), { ...holder, superseded: true });
  t.deepEqual(index.lookup(nhiHash('SU', second), idHash('SU', p.id)), { ...holder, superseded: true });
  t.deepEqual(index.lookup(nhiHash('SU', third), idHash('SU', p.id)), { ...holder, superseded: false });
});

test('with several guardians, each of them is a guardian; another beneficiary\'s guardian is not', async (t) => {
  const [mother, father, grandma, neighbour] = [adult(), adult(), adult(), adult()];
  const kid = child([mother.id, father.id, grandma.id]);
  const other = child([neighbour.id]);
  await f.campaign('GU', [mother, father, grandma, neighbour, kid, other], { open: false });
  const index = await RosterIndex.load(f.db, 'GU');
  for (const g of [mother, father, grandma]) {
    t.like(index.lookup(nhiHash('GU', kid.nhi), idHash('GU', g.id)), { isSelf: false, isGuardian: true });
  }
  t.like(index.lookup(nhiHash('GU', kid.nhi), idHash('GU', neighbour.id)), { isSelf: false, isGuardian: false });
  t.like(index.lookup(nhiHash('GU', other.nhi), idHash('GU', mother.id)), { isSelf: false, isGuardian: false });
  t.like(index.lookup(nhiHash('GU', other.nhi), idHash('GU', neighbour.id)), { isSelf: false, isGuardian: true });
});

test('a campaign with more cards than maxEntries is refused, saying how many it has; at exactly maxEntries it loads', async (t) => {
  const people = [adult(), adult(), adult()];
  await f.campaign('MX', people, { open: false });
  await f.replaceCard('MX', people[0]!.nhi, nhi());
  const e = await t.throwsAsync(RosterIndex.load(f.db, 'MX', { maxEntries: 3 }), { instanceOf: RosterIndexTooLarge });
  t.is(e?.message, 'roster index: campaign MX has 4 cards (3 current, 1 superseded), more than the 3 one copy may hold');
  t.is((await RosterIndex.load(f.db, 'MX', { maxEntries: 4 })).size, 4);
  t.is(LEDGER_LIMITS.ROSTER_INDEX_MAX_ENTRIES, 30_000_000);
});

test('a campaign without beneficiaries loads empty: every card is unknown', async (t) => {
  await f.campaign('EM', [], { open: false });
  const index = await RosterIndex.load(f.db, 'EM');
  t.is(index.size, 0);
  t.is(index.lookup(nhiHash('EM', nhi()), idHash('EM', idNo())), null);
});

test('a NULL among the guardian hashes matches no claimant, as in PostgreSQL', async (t) => {
  const [parent, stranger] = [adult(), adult()];
  const kid = child([parent.id]);
  await f.campaign('NU', [parent, kid], { open: false });
  await f.db.raw(`UPDATE beneficiaries SET guardian_hashes = ARRAY[NULL, ?::bytea, NULL] WHERE campaign_code = 'NU' AND nhi_hash = ?`, [idHash('NU', parent.id), nhiHash('NU', kid.nhi)]);
  const index = await RosterIndex.load(f.db, 'NU');
  const queries = [parent, stranger, kid].map((p) => ({ nhi: nhiHash('NU', kid.nhi), claimant: idHash('NU', p.id) }));
  const answers = queries.map((q) => index.lookup(q.nhi, q.claimant));
  t.deepEqual(answers.map((a) => a?.isGuardian), [true, false, false]);
  t.deepEqual(answers, await fromPostgres('NU', queries));
});

test('a guardian hash that is not 16 bytes makes the load fail, rather than answer otherwise than PostgreSQL', async (t) => {
  const parent = adult();
  const kid = child([parent.id]);
  await f.campaign('BA', [parent, kid], { open: false });
  await f.db.raw(`UPDATE beneficiaries SET guardian_hashes = ARRAY[?::bytea, ?::bytea] WHERE campaign_code = 'BA' AND nhi_hash = ?`, [
    idHash('BA', parent.id).subarray(0, 12), Buffer.concat([idHash('BA', parent.id), Buffer.alloc(4)]), nhiHash('BA', kid.nhi),
  ]);
  await t.throwsAsync(RosterIndex.load(f.db, 'BA'), { message: /guardian hash that is not 16 bytes/ });
});

// Opening a campaign materializes its payouts rows; one campaign is open at a time, so these run one after another.

test.serial('payoutStored is false before the campaign is opened and true after (opening makes the payouts rows)', async (t) => {
  const p = adult();
  await f.campaign('PS', [p], { open: false });
  t.like((await RosterIndex.load(f.db, 'PS')).lookup(nhiHash('PS', p.nhi), idHash('PS', p.id)), { payoutStored: false });
  await f.open('PS');
  try {
    t.like((await RosterIndex.load(f.db, 'PS')).lookup(nhiHash('PS', p.nhi), idHash('PS', p.id)), { payoutStored: true });
  } finally {
    await f.close('PS');
  }
});

test.serial('the version is the one in roster_version when the rows were read; without a row it is 0', async (t) => {
  await f.campaign('VE', [adult()], { open: false });
  const [before] = await f.db('roster_version').select('version');
  try {
    await f.db('roster_version').update({ version: 42 });
    t.is((await RosterIndex.load(f.db, 'VE')).version, '42');
    await f.db('roster_version').delete();
    t.is((await RosterIndex.load(f.db, 'VE')).version, '0');
  } finally {
    await f.db('roster_version').delete();
    await f.db('roster_version').insert({ version: before?.version ?? 1 });
  }
});

test.serial('every lookup equals what readBatch reads from PostgreSQL: current, superseded and unknown cards, each kind of claimant', async (t) => {
  const code = 'EQ';
  const adults: Person[] = [];
  for (let i = 0; i < 160; i++) {
    adults.push(adult({ birth: `19${40 + (i % 60)}-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`, amountMinor: 100_000 + (i % 7) * 50_000 }));
  }
  const children: Person[] = [];
  for (let i = 0; i < 140; i++) {
    // 0 to 3 guardians: other beneficiaries, and people who are on no roster.
    const guardians = [adults[(i * 7) % adults.length]!.id, idNo(), adults[(i * 13 + 5) % adults.length]!.id].slice(0, i % 4);
    children.push(child(guardians, { birth: `20${String(10 + (i % 16)).padStart(2, '0')}-0${1 + (i % 9)}-1${i % 10}`, amountMinor: 300_000 + (i % 3) * 1 }));
  }
  // Dates at the edges of the calendar and of leap years, written as PostgreSQL writes them.
  for (const birth of ['0001-01-01', '9999-12-31', '2000-02-29', '1900-02-28', '1900-03-01', '1600-02-29', '1969-12-31', '1970-01-01']) {
    adults.push(adult({ birth }));
  }
  const everyone = [...adults, ...children];
  const opened = everyone.filter((_, i) => i % 5 !== 0);
  const late = everyone.filter((_, i) => i % 5 === 0);
  // Opened: payouts rows. Then a late import without them, then replaced cards (some twice), before and after opening.
  await f.campaign(code, opened, { open: true });
  try {
    await f.addPeople(code, late);
    const oldCards = new Map<Person, string[]>();
    for (let i = 0; i < everyone.length; i += 9) {
      const p = everyone[i]!;
      const times = i % 2 === 0 ? 1 : 2;
      for (let k = 0; k < times; k++) {
        const next = nhi();
        await f.replaceCard(code, p.nhi, next);
        oldCards.set(p, [...(oldCards.get(p) ?? []), p.nhi]);
        p.nhi = next;
      }
    }
    await f.campaign('EQ2', [adult(), adult()], { open: false });

    const cards: Buffer[] = [];
    for (const p of everyone) for (const n of [p.nhi, ...(oldCards.get(p) ?? [])]) cards.push(nhiHash(code, n));
    for (let i = 0; i < 20; i++) cards.push(nhiHash(code, nhi()));
    cards.push(nhiHash('EQ2', everyone[0]!.nhi), Buffer.alloc(16), Buffer.alloc(0));

    const queries: Array<{ nhi: Buffer; claimant: Buffer }> = [];
    for (const [i, p] of everyone.entries()) {
      const claimants = [p.id, ...(p.guardians ?? []), idNo(), everyone[(i + 1) % everyone.length]!.id].map((id) => idHash(code, id));
      for (const n of [p.nhi, ...(oldCards.get(p) ?? [])]) for (const c of claimants) queries.push({ nhi: nhiHash(code, n), claimant: c });
    }
    for (const [i, c] of cards.entries()) queries.push({ nhi: c, claimant: idHash(code, everyone[i % everyone.length]!.id) });

    const fromPg = await fromPostgres(code, queries);

    // Pages of 7 rows (so the id and card keysets are crossed many times), and the default.
    for (const fetchRows of [7, LEDGER_LIMITS.ROSTER_INDEX_FETCH_ROWS]) {
      const index = await RosterIndex.load(f.db, code, { fetchRows });
      t.is(index.size, everyone.length + [...oldCards.values()].reduce((n, c) => n + c.length, 0));
      t.deepEqual(queries.map((q) => index.lookup(q.nhi, q.claimant)), fromPg, `fetchRows ${fetchRows}`);
    }

    // The comparison covered every kind of answer.
    const found = fromPg.filter((e): e is IndexedEntry => e !== null);
    t.true(fromPg.length - found.length >= 20, 'unknown cards');
    for (const k of ['superseded', 'isSelf', 'isGuardian', 'payoutStored'] as const) {
      t.true(found.some((e) => e[k]) && found.some((e) => !e[k]), `${k} both ways`);
    }
    t.true(new Set(found.map((e) => e.amountMinor)).size > 5 && new Set(found.map((e) => e.birthDate)).size > 100);
  } finally {
    await f.close(code);
  }
});
