import type { Knex } from 'knex';

// Campaigns and their life cycle: draft -> open -> closed -> purged (closed may reopen).
// Amounts are in TWD minor units (2 implied decimals, as on the wire: NT$6,000 = 600000).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('campaign_states', (t) => {
    t.string('code', 8).primary();
    t.text('description').notNullable();
  });
  await knex('campaign_states').insert([
    { code: 'draft', description: 'created, roster may be imported, no withdrawals' },
    { code: 'open', description: 'withdrawals accepted' },
    { code: 'closed', description: 'no withdrawals; advices and reversals still recorded' },
    { code: 'purged', description: 'personal data deleted' },
  ]);
  await knex.schema.createTable('campaigns', (t) => {
    t.string('code', 16).primary();
    t.text('name').notNullable();
    t.bigInteger('amount_minor').notNullable();
    t.string('state', 8).notNullable().defaultTo('draft').references('campaign_states.code');
    t.integer('confirmation_window_ms').notNullable().defaultTo(600_000);
    t.timestamp('opened_at', { useTz: true }).nullable();
    t.timestamp('closed_at', { useTz: true }).nullable();
    t.timestamp('purged_at', { useTz: true }).nullable();
    t.timestamps(true, true);
  });
  await knex.raw(`ALTER TABLE campaigns ADD CONSTRAINT campaigns_amount_positive CHECK (amount_minor > 0)`);
  await knex.raw(`ALTER TABLE campaigns ADD CONSTRAINT campaigns_window_positive CHECK (confirmation_window_ms > 0)`);
  await knex.raw(`ALTER TABLE campaigns ADD CONSTRAINT campaigns_code_format CHECK (code ~ '^[A-Z0-9_-]{1,16}$')`);
  // At most one campaign open at a time: DE48 CP is optional and means "the one open now".
  await knex.raw(`CREATE UNIQUE INDEX campaigns_one_open ON campaigns ((true)) WHERE state = 'open'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('campaigns');
  await knex.schema.dropTable('campaign_states');
}
