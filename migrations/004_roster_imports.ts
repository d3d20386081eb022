import type { Knex } from 'knex';

// One row per roster import: when, into which campaign, and the counts (never the file's contents).
// beneficiaries.last_import_id marks the rows an import inserted or changed, so that whoever keeps a copy of the
// roster (the ledger's Redis) can refresh exactly those after the import commits.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('roster_imports', (t) => {
    t.bigIncrements('id').primary();
    t.string('campaign_code', 16).notNullable().references('campaigns.code').onDelete('CASCADE');
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true }).nullable();
    t.bigInteger('rows_read').notNullable().defaultTo(0);
    t.bigInteger('accepted_new').notNullable().defaultTo(0);
    t.bigInteger('accepted_updated').notNullable().defaultTo(0);
    t.bigInteger('accepted_unchanged').notNullable().defaultTo(0);
    t.bigInteger('rejected').notNullable().defaultTo(0);
  });
  // No foreign key on last_import_id: it is only a marker, not worth a key lookup per imported row.
  await knex.schema.alterTable('beneficiaries', (t) => {
    t.bigInteger('last_import_id').nullable();
  });
  await knex.raw(`CREATE INDEX beneficiaries_last_import ON beneficiaries (last_import_id, id)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX IF EXISTS beneficiaries_last_import`);
  await knex.schema.alterTable('beneficiaries', (t) => {
    t.dropColumn('last_import_id');
  });
  await knex.schema.dropTable('roster_imports');
}
