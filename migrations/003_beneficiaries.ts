import type { Knex } from 'knex';

// The roster. NHI and ID numbers are personal data: only their keyed hashes (HMAC-SHA256 under a
// per-campaign key) are stored, 32 bytes each. A lookup hashes what arrives and compares hashes.
//
// A roster is loaded a million rows at a time, so the reference to the campaign is checked once per statement
// (a trigger over the statement's new rows) rather than by a foreign key, whose per-row check measured 5-8 µs of a
// 1 M-row import's time each for beneficiaries and nhi_cards. Deleting a campaign still takes its roster with it.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('beneficiaries', (t) => {
    t.bigIncrements('id').primary();
    t.string('campaign_code', 16).notNullable();
    t.binary('id_hash').notNullable();
    t.date('birth_date').notNullable();
    t.bigInteger('amount_minor').notNullable();
    t.specificType('guardian_hashes', 'bytea[]').notNullable().defaultTo('{}');
    t.timestamps(true, true);
    t.unique(['campaign_code', 'id_hash']);
  });
  await knex.raw(`ALTER TABLE beneficiaries ADD CONSTRAINT beneficiaries_amount_positive CHECK (amount_minor > 0)`);
  await knex.raw(`ALTER TABLE beneficiaries ADD CONSTRAINT beneficiaries_id_hash_len CHECK (octet_length(id_hash) = 32)`);
  await knex.raw(`
    CREATE FUNCTION beneficiaries_campaign_exists() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE missing text;
    BEGIN
      SELECT n.campaign_code INTO missing FROM (SELECT DISTINCT campaign_code FROM new_rows) n
       WHERE NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.code = n.campaign_code) LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'beneficiaries: campaign % does not exist', missing USING ERRCODE = 'foreign_key_violation';
      END IF;
      RETURN NULL;
    END $$`);
  await knex.raw(`CREATE TRIGGER beneficiaries_campaign_exists AFTER INSERT ON beneficiaries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION beneficiaries_campaign_exists()`);
  await knex.raw(`
    CREATE FUNCTION beneficiaries_campaign_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'beneficiaries: a beneficiary cannot move to another campaign' USING ERRCODE = 'foreign_key_violation';
    END $$`);
  await knex.raw(`CREATE TRIGGER beneficiaries_campaign_fixed BEFORE UPDATE OF campaign_code ON beneficiaries
    FOR EACH ROW WHEN (OLD.campaign_code IS DISTINCT FROM NEW.campaign_code) EXECUTE FUNCTION beneficiaries_campaign_fixed()`);
  await knex.raw(`
    CREATE FUNCTION campaigns_delete_roster() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM beneficiaries WHERE campaign_code = OLD.code;
      RETURN OLD;
    END $$`);
  await knex.raw(`CREATE TRIGGER campaigns_delete_roster BEFORE DELETE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaigns_delete_roster()`);

  // Every NHI card a beneficiary has had in a campaign; the current one has superseded_at NULL. The campaign is the
  // beneficiary's (its own column keys the card lookup); the foreign key to the beneficiary checks it exists.
  await knex.schema.createTable('nhi_cards', (t) => {
    t.string('campaign_code', 16).notNullable();
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
  await knex.raw(`DROP TRIGGER IF EXISTS campaigns_delete_roster ON campaigns`);
  await knex.raw(`DROP FUNCTION IF EXISTS campaigns_delete_roster()`);
  await knex.raw(`DROP FUNCTION IF EXISTS beneficiaries_campaign_fixed()`);
  await knex.raw(`DROP FUNCTION IF EXISTS beneficiaries_campaign_exists()`);
}
