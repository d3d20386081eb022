// Campaigns: the one place that creates and reads the campaigns table (opening and closing belong to the ledger).
import type { Knex } from 'knex';
import { campaignKey } from './roster/hashing.ts';

export type CampaignState = 'draft' | 'open' | 'closed' | 'purged';

export interface Campaign {
  code: string;
  name: string;
  /** TWD minor units (2 implied decimals), as in DE4: NT$6,000 = 600000. */
  amountMinor: number;
  state: CampaignState;
  confirmationWindowMs: number;
  openedAt: Date | null;
  closedAt: Date | null;
  purgedAt: Date | null;
  createdAt: Date;
}

export interface CampaignSummary extends Campaign {
  beneficiaries: number;
}

export const CAMPAIGN_CODE = /^[A-Z0-9_-]{1,16}$/;
export const DEFAULT_AMOUNT_TWD = 6_000;
/** DE4 is n12 with 2 implied decimals: the largest amount it can carry, in whole TWD. */
export const MAX_AMOUNT_TWD = 9_999_999_999;
export const MAX_CAMPAIGN_NAME_CHARS = 200;

export class CampaignError extends Error {}

/** Whole TWD -> minor units. */
export function twdToMinor(twd: number): number {
  return twd * 100;
}

/** NT$6,000 */
export function formatTwd(amountMinor: number): string {
  const twd = amountMinor / 100;
  return `NT$${twd.toLocaleString('en-US', { maximumFractionDigits: 2 })}`;
}

/** A whole, positive number of TWD written as plain digits ("6000"), or null. */
export function parseWholeTwd(s: string): number | null {
  if (!/^[1-9][0-9]{0,9}$/.test(s)) return null;
  const n = Number(s);
  return n <= MAX_AMOUNT_TWD ? n : null;
}

export function checkCampaignCode(code: string): void {
  if (!CAMPAIGN_CODE.test(code)) throw new CampaignError(`campaign code must be 1 to 16 characters of A-Z 0-9 _ -, got "${code.slice(0, 40)}"`);
}

/**
 * The key under which a campaign's identifiers are hashed: every NHI and ID hash of the campaign is
 * hashIdentifier(campaignHashKey(config.identityKey, code), 'nhi' | 'id', value).
 */
export function campaignHashKey(identityKey: string, code: string): Buffer {
  return campaignKey(identityKey, code);
}

interface CampaignRow {
  code: string;
  name: string;
  amount_minor: string | number;
  state: CampaignState;
  confirmation_window_ms: number;
  opened_at: Date | null;
  closed_at: Date | null;
  purged_at: Date | null;
  created_at: Date;
}

function fromRow(r: CampaignRow): Campaign {
  return {
    code: r.code,
    name: r.name,
    amountMinor: Number(r.amount_minor),
    state: r.state,
    confirmationWindowMs: r.confirmation_window_ms,
    openedAt: r.opened_at,
    closedAt: r.closed_at,
    purgedAt: r.purged_at,
    createdAt: r.created_at,
  };
}

export async function createCampaign(
  db: Knex,
  input: { code: string; name?: string; amountTwd?: number },
): Promise<Campaign> {
  checkCampaignCode(input.code);
  const amountTwd = input.amountTwd ?? DEFAULT_AMOUNT_TWD;
  if (!Number.isInteger(amountTwd) || amountTwd <= 0 || amountTwd > MAX_AMOUNT_TWD) {
    throw new CampaignError(`amount must be a whole number of TWD from 1 to ${MAX_AMOUNT_TWD}`);
  }
  const name = (input.name ?? input.code).trim();
  if (!name) throw new CampaignError('campaign name must not be empty');
  if (name.length > MAX_CAMPAIGN_NAME_CHARS) throw new CampaignError(`campaign name must be at most ${MAX_CAMPAIGN_NAME_CHARS} characters`);
  const rows = await db('campaigns')
    .insert({ code: input.code, name, amount_minor: twdToMinor(amountTwd), state: 'draft' })
    .onConflict('code')
    .ignore()
    .returning('*');
  if (rows.length === 0) throw new CampaignError(`campaign ${input.code} already exists`);
  return fromRow(rows[0]);
}

export async function getCampaign(db: Knex, code: string): Promise<Campaign | null> {
  const r = await db('campaigns').where({ code }).first();
  return r ? fromRow(r) : null;
}

/** The campaign, or a CampaignError naming the code. */
export async function requireCampaign(db: Knex, code: string): Promise<Campaign> {
  const c = CAMPAIGN_CODE.test(code) ? await getCampaign(db, code) : null;
  if (!c) throw new CampaignError(`no campaign "${code.slice(0, 40)}"`);
  return c;
}

/** Every campaign, oldest first, with how many beneficiaries its roster holds. */
export async function listCampaigns(db: Knex): Promise<CampaignSummary[]> {
  const rows = await db('campaigns as c')
    .select('c.*', db.raw('(select count(*) from beneficiaries b where b.campaign_code = c.code)::bigint as beneficiaries'))
    .orderBy([{ column: 'c.created_at' }, { column: 'c.code' }]);
  return rows.map((r: CampaignRow & { beneficiaries: string }) => ({ ...fromRow(r), beneficiaries: Number(r.beneficiaries) }));
}
