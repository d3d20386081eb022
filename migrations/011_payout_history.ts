import type { Knex } from 'knex';

// Every change of a payout, appended and never changed: which message (MTI, bank, terminal, STAN, RRN) moved
// which amount from which state to which, and when. A trigger refuses UPDATE, DELETE and TRUNCATE, so the
// journal stays a journal even for a careless operator. It has no foreign keys: it outlives what it describes.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('payout_history', (t) => {
    t.bigIncrements('id').primary();
    t.timestamp('at', { useTz: true }).notNullable();
    t.string('campaign_code', 16).notNullable();
    t.bigInteger('beneficiary_id').notNullable();
    t.bigInteger('withdrawal_id').nullable();
    t.string('event', 16).notNullable().comment('RESERVE, CONFIRM, SETTLE_WINDOW, REVERSE, VOID');
    t.string('from_state', 10).notNullable();
    t.string('to_state', 10).notNullable();
    t.string('mti', 4).nullable().comment('null when the switch itself decided (window, void)');
    t.string('acquirer', 11).nullable();
    t.string('terminal', 8).nullable();
    t.string('stan', 6).nullable();
    t.string('rrn', 12).nullable();
    t.bigInteger('amount_minor').notNullable().comment('the amount the event moved');
    t.bigInteger('paid_after_minor').notNullable();
    t.bigInteger('reserved_after_minor').notNullable();
  });
  await knex.raw(`CREATE INDEX payout_history_beneficiary ON payout_history (beneficiary_id, id)`);
  await knex.raw(`
    CREATE FUNCTION payout_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'payout_history is append-only: % refused', TG_OP;
    END $$`);
  await knex.raw(`CREATE TRIGGER payout_history_no_update BEFORE UPDATE OR DELETE ON payout_history
    FOR EACH ROW EXECUTE FUNCTION payout_history_append_only()`);
  await knex.raw(`CREATE TRIGGER payout_history_no_truncate BEFORE TRUNCATE ON payout_history
    FOR EACH STATEMENT EXECUTE FUNCTION payout_history_append_only()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('payout_history');
  await knex.raw(`DROP FUNCTION IF EXISTS payout_history_append_only()`);
}
