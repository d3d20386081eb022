import type { Knex } from 'knex';

// The roster. NHI and ID numbers are personal data: only their keyed hashes (HMAC-SHA256 under a
// per-campaign key) are stored, 32 bytes each. A lookup hashes what arrives and compares hashes.
//
// A roster is loaded a million rows at a time, so its references (a beneficiary's campaign, a card's beneficiary) are
// checked once per statement, by triggers over the statement's new rows, rather than by foreign keys: a per-row check
// measured 4-8 µs per row and reference, and share-locks (so rewrites) every referenced row. Deleting a campaign
// still deletes its roster, and deleting a beneficiary its cards. Unlike a foreign key, the check takes no lock on
// what it found: nothing deletes a beneficiary but the deletion of its campaign, which waits for the import's share
// lock on the campaign row.
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
  // beneficiary's (its own column keys the card lookup).
  await knex.schema.createTable('nhi_cards', (t) => {
    t.string('campaign_code', 16).notNullable();
    t.binary('nhi_hash').notNullable();
    t.bigInteger('beneficiary_id').notNullable();
    t.timestamp('superseded_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['campaign_code', 'nhi_hash']);
  });
  await knex.raw(`ALTER TABLE nhi_cards ADD CONSTRAINT nhi_cards_hash_len CHECK (octet_length(nhi_hash) = 32)`);
  await knex.raw(`CREATE UNIQUE INDEX nhi_cards_one_current ON nhi_cards (beneficiary_id) WHERE superseded_at IS NULL`);
  await knex.raw(`
    CREATE FUNCTION nhi_cards_holder_exists() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE missing bigint;
    BEGIN
      SELECT n.beneficiary_id INTO missing FROM new_rows n
        LEFT JOIN beneficiaries b ON b.id = n.beneficiary_id AND b.campaign_code = n.campaign_code
       WHERE b.id IS NULL LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'nhi_cards: beneficiary % is not in the card''s campaign', missing USING ERRCODE = 'foreign_key_violation';
      END IF;
      RETURN NULL;
    END $$`);
  await knex.raw(`CREATE TRIGGER nhi_cards_holder_exists AFTER INSERT ON nhi_cards
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION nhi_cards_holder_exists()`);
  await knex.raw(`
    CREATE FUNCTION nhi_cards_holder_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'nhi_cards: a card cannot move to another holder or campaign' USING ERRCODE = 'foreign_key_violation';
    END $$`);
  await knex.raw(`CREATE TRIGGER nhi_cards_holder_fixed BEFORE UPDATE OF beneficiary_id, campaign_code ON nhi_cards
    FOR EACH ROW WHEN (OLD.beneficiary_id IS DISTINCT FROM NEW.beneficiary_id OR OLD.campaign_code IS DISTINCT FROM NEW.campaign_code)
    EXECUTE FUNCTION nhi_cards_holder_fixed()`);
  await knex.raw(`
    CREATE FUNCTION beneficiaries_delete_cards() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM nhi_cards c USING old_rows o WHERE c.campaign_code = o.campaign_code AND c.beneficiary_id = o.id;
      RETURN NULL;
    END $$`);
  await knex.raw(`CREATE TRIGGER beneficiaries_delete_cards AFTER DELETE ON beneficiaries
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION beneficiaries_delete_cards()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('nhi_cards');
  await knex.schema.dropTable('beneficiaries');
  await knex.raw(`DROP TRIGGER IF EXISTS campaigns_delete_roster ON campaigns`);
  await knex.raw(`DROP FUNCTION IF EXISTS campaigns_delete_roster()`);
  await knex.raw(`DROP FUNCTION IF EXISTS beneficiaries_delete_cards()`);
  await knex.raw(`DROP FUNCTION IF EXISTS nhi_cards_holder_fixed()`);
  await knex.raw(`DROP FUNCTION IF EXISTS nhi_cards_holder_exists()`);
  await knex.raw(`DROP FUNCTION IF EXISTS beneficiaries_campaign_fixed()`);
  await knex.raw(`DROP FUNCTION IF EXISTS beneficiaries_campaign_exists()`);
}
