import test from 'ava';
import { Readable } from 'node:stream';
import { freshDatabase, type TestDatabase } from '../helpers/services.ts';
import { ManualClock } from '../../switch/clock.ts';
import { createCampaign } from '../../switch/campaigns.ts';
import { importRoster } from '../../switch/roster/import.ts';
import { syntheticRoster } from '../../switch/roster/synthetic.ts';
import { campaignKey, hashIdentifier, preparedKey } from '../../switch/roster/hashing.ts';

// The roster's references are checked per statement (not by per-row foreign keys): these pin that
// the schema still refuses an orphan roster or card and still deletes what hangs on a deleted campaign or beneficiary.
let tdb: TestDatabase;
test.before(async () => {
  tdb = await freshDatabase();
});
test.after.always(async () => {
  await tdb?.drop();
});

const row = (campaign: string) => ({
  campaign_code: campaign, id_hash: Buffer.alloc(32, 1), birth_date: '1950-01-01', amount_minor: 600000,
});

test('a beneficiary of a campaign that does not exist is refused', async (t) => {
  const e = await t.throwsAsync(tdb.db('beneficiaries').insert(row('NOPE')));
  t.regex(e!.message, /campaign NOPE does not exist/);
  t.is((e as { code?: string }).code, '23503');
});

test('a beneficiary cannot be moved to another campaign', async (t) => {
  await createCampaign(tdb.db, { code: 'MOVE1' });
  await createCampaign(tdb.db, { code: 'MOVE2' });
  const [{ id }] = await tdb.db('beneficiaries').insert(row('MOVE1')).returning('id');
  const e = await t.throwsAsync(tdb.db('beneficiaries').where({ id }).update({ campaign_code: 'MOVE2' }));
  t.regex(e!.message, /cannot move to another campaign/);
});

test('deleting a campaign deletes its roster, cards included', async (t) => {
  await createCampaign(tdb.db, { code: 'GONE' });
  const csv = [...syntheticRoster({ seed: 7, count: 20 }).csv()].join('');
  const s = await importRoster(tdb.db, 'GONE', Readable.from([csv]), { identityKey: 'k', clock: new ManualClock('2026-12-03T02:00:00Z') });
  t.is(s.new, 20);
  await tdb.db('campaigns').where({ code: 'GONE' }).delete();
  t.is(Number((await tdb.db('beneficiaries').where({ campaign_code: 'GONE' }).count('* as n'))[0]!.n), 0);
  t.is(Number((await tdb.db('nhi_cards').where({ campaign_code: 'GONE' }).count('* as n'))[0]!.n), 0);
});

test('a prepared campaign key gives the same identifier hashes as the raw key', (t) => {
  const key = campaignKey('identity', 'K1');
  t.deepEqual(hashIdentifier(preparedKey(key), 'nhi', '000012345678'), hashIdentifier(key, 'nhi', '000012345678'));
  t.notDeepEqual(hashIdentifier(preparedKey(key), 'id', '000012345678'), hashIdentifier(key, 'nhi', '000012345678'));
});

test('a card of a beneficiary that does not exist, or of another campaign, is refused', async (t) => {
  await createCampaign(tdb.db, { code: 'CARD1' });
  await createCampaign(tdb.db, { code: 'CARD2' });
  const [{ id }] = await tdb.db('beneficiaries').insert(row('CARD1')).returning('id');
  const none = await t.throwsAsync(tdb.db('nhi_cards').insert({ campaign_code: 'CARD1', nhi_hash: Buffer.alloc(32, 2), beneficiary_id: Number(id) + 1000 }));
  t.regex(none!.message, /is not in the card's campaign/);
  const other = await t.throwsAsync(tdb.db('nhi_cards').insert({ campaign_code: 'CARD2', nhi_hash: Buffer.alloc(32, 2), beneficiary_id: id }));
  t.is((other as { code?: string }).code, '23503');
  await tdb.db('nhi_cards').insert({ campaign_code: 'CARD1', nhi_hash: Buffer.alloc(32, 2), beneficiary_id: id });
  const moved = await t.throwsAsync(tdb.db('nhi_cards').where({ beneficiary_id: id }).update({ campaign_code: 'CARD2' }));
  t.regex(moved!.message, /cannot move/);
});

test('deleting a beneficiary deletes its cards, superseded ones too', async (t) => {
  await createCampaign(tdb.db, { code: 'DEL1' });
  const [{ id }] = await tdb.db('beneficiaries').insert(row('DEL1')).returning('id');
  await tdb.db('nhi_cards').insert([
    { campaign_code: 'DEL1', nhi_hash: Buffer.alloc(32, 3), beneficiary_id: id, superseded_at: new Date() },
    { campaign_code: 'DEL1', nhi_hash: Buffer.alloc(32, 4), beneficiary_id: id },
  ]);
  await tdb.db('beneficiaries').where({ id }).delete();
  t.is(Number((await tdb.db('nhi_cards').where({ campaign_code: 'DEL1' }).count('* as n'))[0]!.n), 0);
});
