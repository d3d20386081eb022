import type { Knex } from 'knex';

// The roster, reshaped for a fast import (issue 3: >= 100,000 rows/s):
//
// - A beneficiary's current NHI card is a column of its row (beneficiaries.nhi_hash, unique per campaign); nhi_cards
//   keeps only the superseded cards. A new person was two index-heavy inserts (a beneficiary, then its card with a
//   primary key and a one-current-card index); now it is one, and the card lookup of a withdrawal one index probe.
// - Identifier hashes are HMAC-SHA256 truncated to 16 bytes (switch/roster/hashing.ts says why). Truncating a stored
//   hash gives exactly the hash the new code computes, so existing rosters keep working.
//
// A card is current for at most one person of a campaign (the unique index) and never both current and superseded
// (checked per statement by the triggers below, as the other roster references are: migration 003).
// Done in a new migration rather than by editing 003: databases made with 003 exist.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE beneficiaries DROP CONSTRAINT beneficiaries_id_hash_len`);
  await knex.raw(`ALTER TABLE nhi_cards DROP CONSTRAINT nhi_cards_hash_len`);
  await knex.raw(`
    UPDATE beneficiaries SET id_hash = substr(id_hash, 1, 16),
           guardian_hashes = ARRAY(SELECT substr(g, 1, 16) FROM unnest(guardian_hashes) WITH ORDINALITY u(g, o) ORDER BY o)
     WHERE octet_length(id_hash) > 16 OR EXISTS (SELECT 1 FROM unnest(guardian_hashes) g WHERE octet_length(g) > 16)`);
  await knex.raw(`UPDATE nhi_cards SET nhi_hash = substr(nhi_hash, 1, 16) WHERE octet_length(nhi_hash) > 16`);

  await knex.raw(`ALTER TABLE beneficiaries ADD COLUMN nhi_hash bytea`);
  await knex.raw(`
    UPDATE beneficiaries b SET nhi_hash = c.nhi_hash
      FROM nhi_cards c WHERE c.beneficiary_id = b.id AND c.campaign_code = b.campaign_code AND c.superseded_at IS NULL`);
  const orphans = await knex.raw(`SELECT count(*)::int AS n FROM beneficiaries WHERE nhi_hash IS NULL`);
  if (orphans.rows[0].n > 0) {
    throw new Error(`${orphans.rows[0].n} beneficiaries have no current NHI card: give them one (or delete them) before this migration`);
  }
  await knex.raw(`DELETE FROM nhi_cards WHERE superseded_at IS NULL`);
  await knex.raw(`DROP INDEX nhi_cards_one_current`);
  await knex.raw(`ALTER TABLE nhi_cards ALTER COLUMN superseded_at SET NOT NULL`);
  await knex.raw(`CREATE INDEX nhi_cards_holder ON nhi_cards (beneficiary_id)`);

  await knex.raw(`ALTER TABLE beneficiaries ALTER COLUMN nhi_hash SET NOT NULL`);
  await knex.raw(`ALTER TABLE beneficiaries ADD CONSTRAINT beneficiaries_nhi_hash_unique UNIQUE (campaign_code, nhi_hash)`);
  await knex.raw(`ALTER TABLE beneficiaries ADD CONSTRAINT beneficiaries_id_hash_len CHECK (octet_length(id_hash) = 16)`);
  await knex.raw(`ALTER TABLE beneficiaries ADD CONSTRAINT beneficiaries_nhi_hash_len CHECK (octet_length(nhi_hash) = 16)`);
  await knex.raw(`ALTER TABLE nhi_cards ADD CONSTRAINT nhi_cards_hash_len CHECK (octet_length(nhi_hash) = 16)`);

  // Inserted or updated beneficiaries: an inserted one's campaign exists (as before), and no current card is a
  // superseded card. The distinct campaigns are read once; the card check joins only when the campaign has superseded
  // cards at all (a first import of a million rows then costs one pass over them). An UPDATE trigger with transition
  // tables cannot name columns: it sees every update.
  await knex.raw(`
    CREATE FUNCTION beneficiaries_checked() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE codes text[]; missing text; clash text;
    BEGIN
      SELECT array_agg(d.campaign_code) INTO codes FROM (SELECT DISTINCT campaign_code FROM new_rows) d;
      IF TG_OP = 'INSERT' THEN
        SELECT c INTO missing FROM unnest(codes) c WHERE NOT EXISTS (SELECT 1 FROM campaigns WHERE code = c) LIMIT 1;
        IF FOUND THEN
          RAISE EXCEPTION 'beneficiaries: campaign % does not exist', missing USING ERRCODE = 'foreign_key_violation';
        END IF;
      END IF;
      IF EXISTS (SELECT 1 FROM nhi_cards WHERE campaign_code = ANY (codes)) THEN
        SELECT n.campaign_code INTO clash FROM new_rows n
          JOIN nhi_cards c ON c.campaign_code = n.campaign_code AND c.nhi_hash = n.nhi_hash LIMIT 1;
        IF FOUND THEN
          RAISE EXCEPTION 'beneficiaries: a current card is a superseded card of campaign %', clash USING ERRCODE = 'unique_violation';
        END IF;
      END IF;
      RETURN NULL;
    END $$`);
  await knex.raw(`DROP TRIGGER beneficiaries_campaign_exists ON beneficiaries`);
  await knex.raw(`DROP FUNCTION beneficiaries_campaign_exists()`);
  await knex.raw(`CREATE TRIGGER beneficiaries_checked_insert AFTER INSERT ON beneficiaries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION beneficiaries_checked()`);
  await knex.raw(`CREATE TRIGGER beneficiaries_checked_update AFTER UPDATE ON beneficiaries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION beneficiaries_checked()`);
  // A superseded card: its holder is in the card's campaign (as before), and it is nobody's current card.
  await knex.raw(`
    CREATE OR REPLACE FUNCTION nhi_cards_holder_exists() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE missing bigint;
    BEGIN
      SELECT n.beneficiary_id INTO missing FROM new_rows n
        LEFT JOIN beneficiaries b ON b.id = n.beneficiary_id AND b.campaign_code = n.campaign_code
       WHERE b.id IS NULL LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'nhi_cards: beneficiary % is not in the card''s campaign', missing USING ERRCODE = 'foreign_key_violation';
      END IF;
      SELECT b.id INTO missing FROM new_rows n JOIN beneficiaries b ON b.campaign_code = n.campaign_code AND b.nhi_hash = n.nhi_hash LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'nhi_cards: a superseded card is the current card of beneficiary %', missing USING ERRCODE = 'unique_violation';
      END IF;
      RETURN NULL;
    END $$`);
}

export async function down(): Promise<void> {
  throw new Error('005_current_card cannot be undone: the identifier hashes were truncated to 16 bytes and the full hashes are gone');
}
