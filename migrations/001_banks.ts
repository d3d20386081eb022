import type { Knex } from 'knex';

// Participating banks. mac_key is a secret: it is read by the link to verify and sign messages, never printed or logged.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('banks', (t) => {
    t.string('code', 11).primary().comment('DE32 acquiring institution code, e.g. 004');
    t.text('name').notNullable();
    t.binary('mac_key').nullable().comment('AES-128 key for DE64/DE128; null = this bank does not MAC');
    t.boolean('active').notNullable().defaultTo(true);
    t.timestamps(true, true);
  });
  await knex.raw(`ALTER TABLE banks ADD CONSTRAINT banks_code_digits CHECK (code ~ '^[0-9]{1,11}$')`);
  await knex.raw(`ALTER TABLE banks ADD CONSTRAINT banks_mac_key_len CHECK (mac_key IS NULL OR octet_length(mac_key) = 16)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('banks');
}
