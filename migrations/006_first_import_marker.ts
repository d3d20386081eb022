import type { Knex } from 'knex';

// A campaign's first roster import (into an empty campaign) loads every row of the file; its rows are marked by the
// range of their ids instead of one index entry each (issue 3: a million rows in 10 s).
//
// beneficiaries.last_import_id stays the mark of the import that last inserted or changed a row, except for the rows a
// first import inserted: those keep last_import_id NULL, and roster_imports records the ids that import could take,
// (first_import_after_id, first_import_last_id]. The rows it still owns are then the campaign's rows in that range
// with last_import_id NULL (or its own id: the few rows it inserts at the end, switch/roster/writes.ts heldSql); a later
// import that changes one sets its own id. The index on last_import_id leaves out the NULLs: a first import of a
// million rows no longer writes a million entries to it (0.7 of the 8 µs PostgreSQL spent per row).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('roster_imports', (t) => {
    t.bigInteger('first_import_after_id').nullable();
    t.bigInteger('first_import_last_id').nullable();
  });
  await knex.raw(`DROP INDEX beneficiaries_last_import`);
  await knex.raw(`CREATE INDEX beneficiaries_last_import ON beneficiaries (last_import_id, id) WHERE last_import_id IS NOT NULL`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    UPDATE beneficiaries b SET last_import_id = r.id
      FROM roster_imports r
     WHERE b.last_import_id IS NULL AND r.first_import_last_id IS NOT NULL AND b.campaign_code = r.campaign_code
       AND b.id > r.first_import_after_id AND b.id <= r.first_import_last_id`);
  await knex.raw(`DROP INDEX beneficiaries_last_import`);
  await knex.raw(`CREATE INDEX beneficiaries_last_import ON beneficiaries (last_import_id, id)`);
  await knex.schema.alterTable('roster_imports', (t) => {
    t.dropColumn('first_import_after_id');
    t.dropColumn('first_import_last_id');
  });
}
