import type { Knex } from 'knex';

// The index that keeps a current card to one person per campaign leads with the card's hash, not the campaign code.
//
// Its entries go in at random places (a roster's rows are written in id_hash order), and each insert compares the new
// key with about 25 others on its way down. Led by the campaign code, every comparison first compared two equal
// strings under the database's collation, then found the hash behind a variable-length column; led by the hash, one
// memcmp almost always decides (a hash under one campaign's key never meets the same hash under another's). The
// constraint is the same pair, so the same rule; lookups name both columns (the switch's card lookup, the import's),
// and a campaign's cards in hash order (rosterCards) still come from it, the campaign checked inside the index.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE beneficiaries DROP CONSTRAINT beneficiaries_nhi_hash_unique`);
  await knex.raw(`ALTER TABLE beneficiaries ADD CONSTRAINT beneficiaries_nhi_hash_unique UNIQUE (nhi_hash, campaign_code)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE beneficiaries DROP CONSTRAINT beneficiaries_nhi_hash_unique`);
  await knex.raw(`ALTER TABLE beneficiaries ADD CONSTRAINT beneficiaries_nhi_hash_unique UNIQUE (campaign_code, nhi_hash)`);
}
