import test from 'ava';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import { freshDatabase } from '../helpers/services.ts';
import { MIGRATIONS_DIR, migrate } from '../../switch/db.ts';
import { campaignKey, hashIdentifier } from '../../switch/roster/hashing.ts';
import { lookupCard } from '../../switch/roster/store.ts';
import { createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { createCampaign } from '../../switch/campaigns.ts';
import { importRoster } from '../../switch/roster/import.ts';
import { syntheticRoster } from '../../switch/roster/synthetic.ts';

// Migration 005 reshapes rosters that exist: a database migrated before it, holding 32-byte hashes and current cards
// in nhi_cards, must come out with the same people answering to the same (now 16-byte) hashes.

/** Every migration but those named: the database as it was before they were written. */
function migrationsWithout(...skip: string[]): Knex.MigratorConfig['migrationSource'] {
  const names = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.ts') && !skip.includes(f)).sort();
  return {
    getMigrations: async () => names,
    getMigrationName: (name: string) => name,
    getMigration: async (name: string) => import(pathToFileURL(path.join(MIGRATIONS_DIR, name)).href),
  };
}

/** The database as it was before 005: without it and the roster migrations written after it, which build on it. */
const FROM_005 = ['005_current_card.ts', '006_first_import_marker.ts', '007_nhi_index_hash_first.ts'];

const full = (key: Buffer, kind: string, value: string) => createHmac('sha256', key).update(`${kind}:${value}`).digest();

test('005 moves current cards into their holders, keeps superseded ones, and truncates every hash to its first 16 bytes', async (t) => {
  const tdb = await freshDatabase(false);
  try {
    await tdb.db.migrate.latest({ migrationSource: migrationsWithout(...FROM_005) });
    const key = campaignKey('identity', 'OLD');
    await tdb.db('campaigns').insert({ code: 'OLD', name: 'old', amount_minor: 600_000 });
    const [a] = await tdb.db('beneficiaries')
      .insert({
        campaign_code: 'OLD', id_hash: full(key, 'id', 'B223456782'), birth_date: '2019-02-11', amount_minor: 600_000,
        guardian_hashes: [full(key, 'id', 'F131104093'), full(key, 'id', 'A123456789')],
      })
      .returning('id');
    await tdb.db('nhi_cards').insert([
      { campaign_code: 'OLD', nhi_hash: full(key, 'nhi', '000012345678'), beneficiary_id: a.id, superseded_at: new Date() },
      { campaign_code: 'OLD', nhi_hash: full(key, 'nhi', '000077777777'), beneficiary_id: a.id },
    ]);

    t.deepEqual(await migrate(tdb.db), FROM_005);

    const cur = await lookupCard(tdb.db, 'OLD', hashIdentifier(key, 'nhi', '000077777777'));
    const old = await lookupCard(tdb.db, 'OLD', hashIdentifier(key, 'nhi', '000012345678'));
    t.is(cur.status, 'current');
    t.is(old.status, 'superseded');
    if (cur.status === 'unknown') return;
    t.deepEqual(cur.entry.idHash, hashIdentifier(key, 'id', 'B223456782'));
    t.deepEqual(cur.entry.guardianHashes, [hashIdentifier(key, 'id', 'F131104093'), hashIdentifier(key, 'id', 'A123456789')], 'same order');
    t.deepEqual(cur.entry.nhiHash, hashIdentifier(key, 'nhi', '000077777777'));
    t.is(Number((await tdb.db('nhi_cards').count<{ n: string }[]>('* as n'))[0]!.n), 1, 'only the superseded card is left in nhi_cards');
  } finally {
    await tdb.drop();
  }
});

test('005 refuses to run on a roster with a beneficiary that has no current card, and says so', async (t) => {
  const tdb = await freshDatabase(false);
  try {
    await tdb.db.migrate.latest({ migrationSource: migrationsWithout(...FROM_005) });
    await tdb.db('campaigns').insert({ code: 'OLD', name: 'old', amount_minor: 600_000 });
    await tdb.db('beneficiaries').insert({ campaign_code: 'OLD', id_hash: Buffer.alloc(32, 1), birth_date: '1980-01-01', amount_minor: 600_000 });
    await t.throwsAsync(migrate(tdb.db), { message: /1 beneficiaries have no current NHI card/ });
  } finally {
    await tdb.drop();
  }
});

test("006: a first import's rows keep last_import_id NULL and out of its index; undone, they get their import's id back", async (t) => {
  const tdb = await freshDatabase();
  try {
    await createCampaign(tdb.db, { code: 'FIRST' });
    await createCampaign(tdb.db, { code: 'LATER' });
    const csv = (seed: number) => Readable.from([[...syntheticRoster({ seed, count: 20 }).csv()].join('')]);
    const first = await importRoster(tdb.db, 'FIRST', csv(1), { identityKey: 'k' });
    await importRoster(tdb.db, 'LATER', Readable.from(['nhi_card_no,id_no,birth_date,guardian_ids\n000012345678,A123456789,1980-05-01,\n']), { identityKey: 'k' });
    const later = await importRoster(tdb.db, 'LATER', csv(2), { identityKey: 'k' }); // not a first import: rows marked
    const marks = async (code: string) =>
      (await tdb.db('beneficiaries').where({ campaign_code: code }).select('last_import_id')).map((r) => r.last_import_id && Number(r.last_import_id));
    t.deepEqual(await marks('FIRST'), Array(20).fill(null));
    t.deepEqual((await marks('LATER')).filter((m) => m === later.importId).length, 20);
    const def = async () => (await tdb.db.raw(`SELECT indexdef FROM pg_indexes WHERE indexname = 'beneficiaries_last_import'`)).rows[0].indexdef;
    t.regex(await def(), /WHERE \(last_import_id IS NOT NULL\)/);

    await tdb.db.migrate.down({ name: '006_first_import_marker.ts' });
    t.deepEqual(await marks('FIRST'), Array(20).fill(first.importId));
    t.notRegex(await def(), /WHERE/);
    t.deepEqual((await marks('LATER')).filter((m) => m === later.importId).length, 20);
  } finally {
    await tdb.drop();
  }
});
