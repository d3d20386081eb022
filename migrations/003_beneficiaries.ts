import type { Knex } from 'knex';

// The roster. NHI and ID numbers are personal data: only their keyed hashes (HMAC-SHA256 under a
// per-campaign key) are stored, 32 bytes each. A lookup hashes what arrives and compares hashes.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('beneficiaries', (t) => {
    t.bigIncrements('id').primary();
    t.string('campaign_code', 16).notNullable().references('campaigns.code').onDelete('CASCADE');
    t.binary('id_hash').notNullable();
    t.date('birth_date').notNullable();
    t.bigInteger('amount_minor').notNullable();
    t.specificType('guardian_hashes', 'bytea[]').notNullable().defaultTo('{}');
    t.timestamps(true, true);
    t.unique(['campaign_code', 'id_hash']);
  });
  await knex.raw(`ALTER TABLE beneficiaries ADD CONSTRAINT beneficiaries_amount_positive CHECK (amount_minor > 0)`);
  await knex.raw(`ALTER TABLE beneficiaries ADD CONSTRAINT beneficiaries_id_hash_len CHECK (octet_length(id_hash) = 32)`);

  // Every NHI card a beneficiary has had in a campaign; the current one has superseded_at NULL.
  await knex.schema.createTable('nhi_cards', (t) => {
    t.string('campaign_code', 16).notNullable().references('campaigns.code').onDelete('CASCADE');
    t.binary('nhi_hash').notNullable();
    t.bigInteger('beneficiary_id').notNullable().references('beneficiaries.id').onDelete('CASCADE');
    t.timestamp('superseded_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['campaign_code', 'nhi_hash']);
  });
  await knex.raw(`ALTER TABLE nhi_cards ADD CONSTRAINT nhi_cards_hash_len CHECK (octet_length(nhi_hash) = 32)`);
  await knex.raw(`CREATE UNIQUE INDEX nhi_cards_one_current ON nhi_cards (beneficiary_id) WHERE superseded_at IS NULL`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('nhi_cards');
  await knex.schema.dropTable('beneficiaries');
}
