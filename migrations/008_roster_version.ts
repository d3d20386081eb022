import type { Knex } from 'knex';

// One number that changes whenever any roster row changes (beneficiaries or their cards, by any statement: the import,
// COPY, a purge, a hand-made fix). A switch keeps a copy of an open campaign's roster in memory (switch/ledger/
// roster-index.ts) stamped with the number it was read at; the group commit compares the stamp with this row in the
// same statement, so nothing decided from a copy older than the roster commits (it is decided again from PostgreSQL).
//
// One row for all campaigns: a change to any roster only makes every copy reload. Its lock is taken by the first
// roster statement of a transaction and held to its end, so two roster imports run one after the other; the money
// path only reads the row (no lock), and sees the change exactly when the import's transaction commits.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE roster_version (one boolean PRIMARY KEY DEFAULT true CHECK (one), version bigint NOT NULL)`);
  await knex.raw(`INSERT INTO roster_version (version) VALUES (1)`);
  await knex.raw(`
    CREATE FUNCTION roster_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE roster_version SET version = version + 1;
      RETURN NULL;
    END $$`);
  for (const table of ['beneficiaries', 'nhi_cards']) {
    await knex.raw(`CREATE TRIGGER ${table}_roster_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table}
      FOR EACH STATEMENT EXECUTE FUNCTION roster_version_bump()`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['beneficiaries', 'nhi_cards']) await knex.raw(`DROP TRIGGER IF EXISTS ${table}_roster_version ON ${table}`);
  await knex.raw(`DROP FUNCTION IF EXISTS roster_version_bump()`);
  await knex.raw(`DROP TABLE IF EXISTS roster_version`);
}
