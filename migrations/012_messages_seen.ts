import type { Knex } from 'knex';

// partner-interface §6: a request is identified by DE32+DE41+DE11+DE7 within its MTI class. The answer is
// stored in the same transaction as the change it describes, so a retransmission gets exactly that answer.
// Kept 48 hours (the purge job deletes older rows).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('messages_seen', (t) => {
    t.string('mti_class', 3).notNullable().comment('020, 022 or 042: a repeat (0221, 0421) is in its original class');
    t.text('msg_key').notNullable().comment('DE32|DE41|DE11|DE7');
    t.binary('body_hash').notNullable().comment('SHA-256 of the request after its MTI, without the MAC');
    // The request (the same body, by body_hash) rebuilds the echoed fields, so only what the response adds is kept.
    t.jsonb('response').notNullable().comment('the answer: {outcome, extra}: outcome (DE39/DE44) and the fields added to the echo');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.primary(['mti_class', 'msg_key']);
  });
  await knex.raw(`ALTER TABLE messages_seen ADD CONSTRAINT messages_seen_hash_len CHECK (octet_length(body_hash) = 32)`);
  await knex.raw(`CREATE INDEX messages_seen_created ON messages_seen (created_at)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('messages_seen');
}
