import type { Knex } from 'knex';

// partner-interface §6: a reversal whose original 0200 is unknown is acknowledged and remembered for 48 hours;
// if that 0200 arrives later it is declined (12 REVERSED_EARLIER) and nothing is reserved.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('reversal_tombstones', (t) => {
    t.text('msg_key').primary().comment('DE32|DE41|DE11|DE7 of the original 0200, from the reversal DE90');
    t.bigInteger('dispensed_minor').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
  });
  await knex.raw(`CREATE INDEX reversal_tombstones_created ON reversal_tombstones (created_at)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('reversal_tombstones');
}
