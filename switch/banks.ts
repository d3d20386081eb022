// The participating banks: the one place that reads and writes the banks table.
import type { Knex } from 'knex';

export interface Bank {
  code: string;
  name: string;
  /** AES-128 MAC key, or null. A secret: never print or log it. */
  macKey: Buffer | null;
  active: boolean;
}

export const BANK_CODE = /^[0-9]{1,11}$/;

export class BankError extends Error {}

function row(r: { code: string; name: string; mac_key: Buffer | null; active: boolean }): Bank {
  return { code: r.code, name: r.name, macKey: r.mac_key, active: r.active };
}

export function parseMacKey(hex: string): Buffer {
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new BankError('--mac-key must be 32 hex digits (an AES-128 key)');
  return Buffer.from(hex, 'hex');
}

export async function addBank(db: Knex, code: string, name: string, macKey: Buffer | null = null): Promise<void> {
  if (!BANK_CODE.test(code)) throw new BankError(`bank code must be 1 to 11 digits, got "${code}"`);
  if (!name.trim()) throw new BankError('bank name must not be empty');
  if (macKey && macKey.length !== 16) throw new BankError('MAC key must be 16 bytes');
  await db('banks')
    .insert({ code, name, mac_key: macKey, active: true })
    .onConflict('code')
    .merge({ name, mac_key: macKey, active: true, updated_at: db.fn.now() });
}

/** Deactivates a bank: its sign-on is refused from then on; its history stays. */
export async function removeBank(db: Knex, code: string): Promise<boolean> {
  const n = await db('banks').where({ code }).update({ active: false, updated_at: db.fn.now() });
  return n > 0;
}

export async function listBanks(db: Knex): Promise<Bank[]> {
  return (await db('banks').select('*').orderBy('code')).map(row);
}

export async function findActiveBank(db: Knex, code: string): Promise<Bank | null> {
  const r = await db('banks').where({ code, active: true }).first();
  return r ? row(r) : null;
}
