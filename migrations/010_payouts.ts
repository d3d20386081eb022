import type { Knex } from 'knex';

// Payouts: one row per entitlement (a beneficiary in a campaign), the truth about what was reserved and paid.
// The states are rows of their own (a table, not free text) so that every transition names a known state.
// The constraints alone guarantee "at most the entitlement, in total", whatever Redis says:
//   0 <= reserved, 0 <= paid, reserved + paid <= entitled, and each state fixes how the amounts relate.
// Amounts are TWD minor units (2 implied decimals, as DE4).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('payout_states', (t) => {
    t.string('code', 10).primary();
    t.text('description').notNullable();
  });
  await knex('payout_states').insert([
    { code: 'AVAILABLE', description: 'something remains to be paid and nothing is reserved' },
    { code: 'RESERVED', description: 'an approved withdrawal holds the remaining amount until confirmed, reversed or settled' },
    { code: 'PAID', description: 'the whole entitlement has been paid' },
  ]);
  await knex.schema.createTable('payouts', (t) => {
    t.bigInteger('beneficiary_id').primary().references('beneficiaries.id').onDelete('CASCADE');
    // The campaign follows from the beneficiary (no second foreign key to check on a million-row load).
    t.string('campaign_code', 16).notNullable();
    t.string('state', 10).notNullable().defaultTo('AVAILABLE').references('payout_states.code');
    t.bigInteger('entitled_minor').notNullable();
    t.bigInteger('reserved_minor').notNullable().defaultTo(0);
    t.bigInteger('paid_minor').notNullable().defaultTo(0);
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`ALTER TABLE payouts ADD CONSTRAINT payouts_entitled_positive CHECK (entitled_minor > 0)`);
  await knex.raw(`ALTER TABLE payouts ADD CONSTRAINT payouts_amounts_not_negative CHECK (reserved_minor >= 0 AND paid_minor >= 0)`);
  await knex.raw(`ALTER TABLE payouts ADD CONSTRAINT payouts_at_most_entitled CHECK (reserved_minor + paid_minor <= entitled_minor)`);
  // A withdrawal must ask for exactly the remaining amount, so a reservation always holds all that remains.
  await knex.raw(`ALTER TABLE payouts ADD CONSTRAINT payouts_state_amounts CHECK (
       (state = 'AVAILABLE' AND reserved_minor = 0 AND paid_minor < entitled_minor)
    OR (state = 'RESERVED'  AND reserved_minor > 0 AND reserved_minor + paid_minor = entitled_minor)
    OR (state = 'PAID'      AND reserved_minor = 0 AND paid_minor = entitled_minor))`);
  await knex.raw(`CREATE INDEX payouts_campaign ON payouts (campaign_code, beneficiary_id)`);

  await knex.schema.createTable('withdrawal_states', (t) => {
    t.string('code', 10).primary();
    t.text('description').notNullable();
  });
  await knex('withdrawal_states').insert([
    { code: 'RESERVED', description: 'approved; waiting for the confirmation, a reversal or the end of the confirmation window' },
    { code: 'PAID', description: 'confirmed by 0220/0221 or settled when the confirmation window passed' },
    { code: 'REVERSED', description: 'reversed by 0420/0421; dispensed_minor holds what the ATM actually paid out' },
    { code: 'VOIDED', description: 'the switch answered 91 although the reservation may have committed: undone' },
  ]);
  // One row per approved 0200. Advices and reversals find it by msg_key (DE32|DE41|DE11|DE7 of the 0200, from DE90).
  await knex.schema.createTable('withdrawals', (t) => {
    t.bigIncrements('id').primary();
    t.string('campaign_code', 16).notNullable();
    t.bigInteger('beneficiary_id').notNullable().references('payouts.beneficiary_id').onDelete('CASCADE');
    t.text('msg_key').notNullable();
    t.string('acquirer', 11).notNullable();
    t.string('terminal', 8).notNullable();
    t.string('stan', 6).notNullable();
    t.string('transmitted', 10).notNullable().comment('DE7 of the 0200, MMDDhhmmss UTC');
    t.string('rrn', 12).notNullable();
    t.bigInteger('amount_minor').notNullable();
    t.bigInteger('dispensed_minor').nullable();
    t.string('state', 10).notNullable().defaultTo('RESERVED').references('withdrawal_states.code');
    t.timestamp('reserved_at', { useTz: true }).notNullable();
    t.timestamp('due_at', { useTz: true }).notNullable().comment('end of the confirmation window');
    t.timestamp('settled_at', { useTz: true }).nullable();
  });
  await knex.raw(`ALTER TABLE withdrawals ADD CONSTRAINT withdrawals_amount_positive CHECK (amount_minor > 0)`);
  await knex.raw(`ALTER TABLE withdrawals ADD CONSTRAINT withdrawals_dispensed_range CHECK (
    dispensed_minor IS NULL OR (dispensed_minor >= 0 AND dispensed_minor <= amount_minor))`);
  await knex.raw(`CREATE INDEX withdrawals_msg_key ON withdrawals (msg_key, id)`);
  // At most one open reservation per entitlement, again whatever Redis says.
  await knex.raw(`CREATE UNIQUE INDEX withdrawals_one_reserved ON withdrawals (beneficiary_id) WHERE state = 'RESERVED'`);
  await knex.raw(`CREATE INDEX withdrawals_due ON withdrawals (due_at) WHERE state = 'RESERVED'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('withdrawals');
  await knex.schema.dropTable('withdrawal_states');
  await knex.schema.dropTable('payouts');
  await knex.schema.dropTable('payout_states');
}
