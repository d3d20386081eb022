// Settlement figures: what each bank paid out (and is reimbursed for) in a campaign, from the withdrawals ledger.
// A withdrawal's dispensed amount is what left the ATM: the whole amount once PAID, what DE95 said for a partial
// reversal, zero for a full one. Reserved withdrawals are shown apart: their cash may still be reversed.
import type { Knex } from 'knex';

export interface BankFigures {
  bank: string;
  approvals: number;
  paid_count: number;
  reversed_count: number;
  reserved_count: number;
  /** TWD minor units (2 implied decimals), as on the wire. */
  paid_minor: number;
  reserved_minor: number;
}

export interface CampaignFigures {
  campaign: string;
  banks: BankFigures[];
  paid_minor: number;
  reserved_minor: number;
}

export async function campaignFigures(db: Knex, campaign: string): Promise<CampaignFigures> {
  const rows = await db('withdrawals')
    .where({ campaign_code: campaign })
    .whereNot({ state: 'VOIDED' })
    .groupBy('acquirer')
    .orderBy('acquirer')
    .select(
      'acquirer',
      db.raw('count(*)::int as approvals'),
      db.raw(`count(*) filter (where state = 'PAID')::int as paid_count`),
      db.raw(`count(*) filter (where state = 'REVERSED')::int as reversed_count`),
      db.raw(`count(*) filter (where state = 'RESERVED')::int as reserved_count`),
      db.raw(`coalesce(sum(dispensed_minor) filter (where state in ('PAID', 'REVERSED')), 0)::bigint as paid_minor`),
      db.raw(`coalesce(sum(amount_minor) filter (where state = 'RESERVED'), 0)::bigint as reserved_minor`),
    );
  const banks: BankFigures[] = rows.map((r: Record<string, unknown>) => ({
    bank: String(r.acquirer),
    approvals: Number(r.approvals),
    paid_count: Number(r.paid_count),
    reversed_count: Number(r.reversed_count),
    reserved_count: Number(r.reserved_count),
    paid_minor: Number(r.paid_minor),
    reserved_minor: Number(r.reserved_minor),
  }));
  return {
    campaign,
    banks,
    paid_minor: banks.reduce((a, b) => a + b.paid_minor, 0),
    reserved_minor: banks.reduce((a, b) => a + b.reserved_minor, 0),
  };
}
