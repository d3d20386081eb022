// The ledger's side of the load reconciliation: what the switch's ops API says one bank has paid out in a campaign.
// Only that bank's ATMs should be in the load, so its figure is the one that must equal the cash dispensed.

/** Whole TWD paid out by `bank` in `campaign`, from GET /v1/campaigns/:code/settlement. */
export async function ledgerPaidTwd(adminBase: string, campaign: string, bank: string, timeoutMs = 5_000): Promise<number> {
  const res = await fetch(`${adminBase.replace(/\/$/, '')}/v1/campaigns/${encodeURIComponent(campaign)}/settlement`, {
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`ops API answered ${res.status} for campaign ${campaign}`);
  const body = (await res.json()) as { banks: Array<{ bank: string; paid_minor: number }> };
  return (body.banks.find((b) => b.bank === bank)?.paid_minor ?? 0) / 100;
}
