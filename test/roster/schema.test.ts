import test from 'ava';
import { Readable } from 'node:stream';
import { freshDatabase, type TestDatabase } from '../helpers/services.ts';
import { ManualClock } from '../../switch/clock.ts';
import { createCampaign } from '../../switch/campaigns.ts';
import { importRoster } from '../../switch/roster/import.ts';
import { syntheticRoster } from '../../switch/roster/synthetic.ts';
import { createHmac } from 'node:crypto';
import { campaignKey, hashIdentifier, hashIdentifierInto, preparedKey } from '../../switch/roster/hashing.ts';

// The roster's references are checked per statement (not by per-row foreign keys): these pin that
// the schema still refuses an orphan roster or card and still deletes what hangs on a deleted campaign or beneficiary.
let tdb: TestDatabase;
test.before(async () => {
  tdb = await freshDatabase();
});
test.after.always(async () => {
  await tdb?.drop();
});

const row = (campaign: string, n = 1) => ({
  campaign_code: campaign, id_hash: Buffer.alloc(16, n), nhi_hash: Buffer.alloc(16, 100 + n), birth_date: '1950-01-01', amount_minor: 600000,
});
const superseded = (campaign: string, nhi: number, beneficiaryId: unknown) => ({
  campaign_code: campaign, nhi_hash: Buffer.alloc(16, nhi), beneficiary_id: beneficiaryId, superseded_at: new Date(),
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

test('an identifier hash is the first 16 bytes of HMAC-SHA256 of "kind:value" under the campaign key', (t) => {
  const keys = [campaignKey('identity', 'K1'), Buffer.from('short'), Buffer.alloc(64, 7), Buffer.alloc(100, 9)];
  // Messages of one and two blocks either side of the padding boundaries, non-ASCII, and longer than the scratch buffer.
  const values = ['000012345678', 'A123456789', '', 'é漢字', ...[52, 53, 60, 61, 116, 117, 253].map((n) => 'x'.repeat(n)), 'y'.repeat(1000)];
  for (const key of keys) {
    for (const value of values) {
      const expected = createHmac('sha256', key).update(`id:${value}`).digest().subarray(0, 16);
      t.deepEqual(hashIdentifier(key, 'id', value), expected, `${key.length}-byte key, ${value.length} characters`);
      t.deepEqual(hashIdentifier(preparedKey(key), 'id', value), expected);
      const out = Buffer.alloc(20, 0xee);
      hashIdentifierInto(preparedKey(key), 'id', value, out, 2);
      t.deepEqual(out.subarray(2, 18), expected);
      t.deepEqual([out[0], out[1], out[18], out[19]], [0xee, 0xee, 0xee, 0xee]);
    }
  }
});

test('a superseded card of a beneficiary that does not exist, or of another campaign, is refused', async (t) => {
  await createCampaign(tdb.db, { code: 'CARD1' });
  await createCampaign(tdb.db, { code: 'CARD2' });
  const [{ id }] = await tdb.db('beneficiaries').insert(row('CARD1')).returning('id');
  const none = await t.throwsAsync(tdb.db('nhi_cards').insert(superseded('CARD1', 2, Number(id) + 1000)));
  t.regex(none!.message, /is not in the card's campaign/);
  const other = await t.throwsAsync(tdb.db('nhi_cards').insert(superseded('CARD2', 2, id)));
  t.is((other as { code?: string }).code, '23503');
  await tdb.db('nhi_cards').insert(superseded('CARD1', 2, id));
  const moved = await t.throwsAsync(tdb.db('nhi_cards').where({ beneficiary_id: id }).update({ campaign_code: 'CARD2' }));
  t.regex(moved!.message, /cannot move/);
});

test('deleting a beneficiary deletes its cards, superseded ones too', async (t) => {
  await createCampaign(tdb.db, { code: 'DEL1' });
  const [{ id }] = await tdb.db('beneficiaries').insert(row('DEL1')).returning('id');
  await tdb.db('nhi_cards').insert([superseded('DEL1', 3, id), superseded('DEL1', 4, id)]);
  await tdb.db('beneficiaries').where({ id }).delete();
  t.is(Number((await tdb.db('nhi_cards').where({ campaign_code: 'DEL1' }).count('* as n'))[0]!.n), 0);
});

test('a card is the current card of one person of a campaign at most, and never both current and superseded', async (t) => {
  await createCampaign(tdb.db, { code: 'ONE1' });
  await createCampaign(tdb.db, { code: 'ONE2' });
  const [{ id }] = await tdb.db('beneficiaries').insert(row('ONE1', 1)).returning('id');
  const twice = await t.throwsAsync(tdb.db('beneficiaries').insert({ ...row('ONE1', 2), nhi_hash: row('ONE1', 1).nhi_hash }));
  t.is((twice as { code?: string }).code, '23505');
  await tdb.db('beneficiaries').insert({ ...row('ONE2', 2), nhi_hash: row('ONE1', 1).nhi_hash }); // another campaign: its own hashes

  // A current card cannot be filed as superseded...
  const current = await t.throwsAsync(tdb.db('nhi_cards').insert(superseded('ONE1', 101, id)));
  t.regex(current!.message, /superseded card is the current card/);
  // ...and a superseded card cannot come back as anyone's current card, by insert or by update.
  await tdb.db('nhi_cards').insert(superseded('ONE1', 7, id));
  const back = await t.throwsAsync(tdb.db('beneficiaries').insert({ ...row('ONE1', 3), nhi_hash: Buffer.alloc(16, 7) }));
  t.regex(back!.message, /current card is a superseded card/);
  const updated = await t.throwsAsync(tdb.db('beneficiaries').where({ id }).update({ nhi_hash: Buffer.alloc(16, 7) }));
  t.regex(updated!.message, /current card is a superseded card/);
});

test('identifier hashes are 16 bytes: a 32-byte hash is refused', async (t) => {
  await createCampaign(tdb.db, { code: 'LEN1' });
  const e = await t.throwsAsync(tdb.db('beneficiaries').insert({ ...row('LEN1'), id_hash: Buffer.alloc(32, 1) }));
  t.regex(e!.message, /beneficiaries_id_hash_len/);
});
