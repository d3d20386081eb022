// 0200: withdrawal (DE3 010000) and entitlement inquiry (310000), partner-interface.md §5–7.
// Checks in the §7 order from "duplicate" on (the link did MAC, format and sign-on); the rules are pure
// (ledger/rules.ts); a withdrawal is approved only after Redis reserved it and PostgreSQL committed it.
import type { IsoMessage } from '../iso8583/message.ts';
import { parseTlv } from '../iso8583/de48.ts';
import { LIMITS } from '../config.ts';
import { hashIdentifier } from '../roster/hashing.ts';
import type { Handler, LedgerCore, RequestContext } from '../ledger/core.ts';
import type { CampaignInfo } from '../ledger/campaign-cache.ts';
import { recordAnswer, replay, replayStored, seenKeyOf } from '../ledger/dedupe.ts';
import { beforeDeadline } from '../ledger/deadline.ts';
import type { ReadResult, SeenKey } from '../ledger/journal.ts';
import { amountMinor, n12 } from '../ledger/messages.ts';
import { decideWithdrawal, type RosterEntry } from '../ledger/rules.ts';
import type { Reserved } from '../ledger/reservations.ts';
import type { Outcome } from './outcomes.ts';
import { respond, responseMti, settlementDate } from './respond.ts';

/** DE54 on an inquiry: amount type 00, account type 02, C(redit), currency 901, n12 remaining. */
export function remainingAmountField(remainingMinor: number): string {
  return `0002C901${n12(remainingMinor)}`;
}

/** DE38, an6: derived from the STAN, as in the golden vectors. */
export function approvalCode(stan: string): string {
  return `A${stan.slice(-5)}`;
}

export function withdrawalHandler(core: LedgerCore): Handler {
  return (req, ctx) => {
    const seen = seenKeyOf(req, ctx.body);
    return core.keyLock.run(seen.cls + seen.key, () => handle(core, req, ctx, seen));
  };
}

async function handle(core: LedgerCore, req: IsoMessage, ctx: RequestContext, seen: SeenKey): Promise<IsoMessage> {
  const deadline = Date.now() + LIMITS.STORE_TIMEOUT_MS;
  const now = core.clock.now();
  const de15 = { 15: settlementDate(now) };
  const unavailable = () => respond(req, 'UNAVAILABLE', de15);
  // Its earlier attempt may have committed while the client heard 91: nothing new until that is undone.
  if (core.commits.inDoubt.has(seen.cls, seen.key)) return unavailable();

  const tags = parseTlv(req.fields[48] ?? '');
  let campaign: CampaignInfo | null;
  let read: ReadResult;
  try {
    campaign = await core.campaigns.select(tags.get('CP'), deadline);
    const nhiHash = campaign ? hashIdentifier(campaign.hashKey, 'nhi', tags.get('NH') ?? '') : null;
    read = await beforeDeadline(core.reads.submit({ seen, campaign: campaign?.code ?? null, nhiHash }), deadline, 'roster read');
  } catch (e) {
    core.logger.warn('withdrawal answered 91: PostgreSQL unavailable', { error: (e as Error).message });
    return unavailable();
  }
  if (read.seen) return replay(read.seen, req, seen, de15);

  const amount = amountMinor(req.fields[4]);
  const decision = decideWithdrawal({
    signedOnBank: ctx.bank.code,
    acquirer: req.fields[32] ?? '',
    campaignOpen: campaign?.state === 'open',
    processingCode: req.fields[3] ?? '',
    currency: req.fields[49] ?? '',
    reversedEarlier: read.tombstoned,
    entry: read.entry,
    claimantHash: campaign ? hashIdentifier(campaign.hashKey, 'id', tags.get('ID') ?? '') : Buffer.alloc(0),
    atmDate: req.fields[13] ?? '',
    now,
    amountMinor: amount,
  });
  if (decision.outcome !== 'APPROVED') return recordAnswer(core, req, seen, respond(req, decision.outcome, de15), unavailable(), deadline);
  if (decision.inquiry) {
    const answer = respond(req, 'APPROVED', { ...de15, 54: remainingAmountField(decision.remainingMinor) });
    return recordAnswer(core, req, seen, answer, unavailable(), deadline);
  }
  return reserve(core, req, seen, campaign!, read.entry!, read.payoutStored, amount, now, deadline, de15);
}

async function reserve(
  core: LedgerCore, req: IsoMessage, seen: SeenKey, campaign: CampaignInfo, entry: RosterEntry, payoutStored: boolean,
  amount: number, now: Date, deadline: number, de15: { 15: string },
): Promise<IsoMessage> {
  const unavailable = () => respond(req, 'UNAVAILABLE', de15);
  const decline = (o: Outcome) => recordAnswer(core, req, seen, respond(req, o, de15), unavailable(), deadline);
  const id = entry.beneficiaryId;
  let epoch = core.recovery.epochOf(campaign.code);
  let gate: Reserved;
  try {
    if (!epoch) {
      // Redis is not known to hold this campaign (flushed, restarted, rebuilding): never approve from it.
      if (!(await beforeDeadline(core.recovery.ensure(campaign.code), deadline, 'redis epoch'))) return unavailable();
      epoch = core.recovery.epochOf(campaign.code)!;
    }
    const attempt = () => beforeDeadline(core.reservations.reserve(campaign.code, id, epoch!, amount, now), deadline, 'reserve');
    gate = await attempt();
    if (gate.status === 'NOT_READY') {
      if (!(await beforeDeadline(core.recovery.notReady(campaign.code, id), deadline, 'redis recovery'))) return unavailable();
      epoch = core.recovery.epochOf(campaign.code);
      if (!epoch) return unavailable();
      gate = await attempt();
    }
    if (gate.status === 'PAID' || gate.status === 'AMOUNT') {
      // PostgreSQL said AVAILABLE with this amount a moment ago: Redis may be stale. Make it agree, then ask again.
      await core.recovery.repair(campaign.code, id, gate.value, deadline);
      gate = await attempt();
    }
  } catch (e) {
    core.logger.warn('withdrawal answered 91: Redis unavailable', { error: (e as Error).message });
    return unavailable();
  }
  switch (gate.status) {
    case 'NOT_READY':
      return unavailable();
    case 'RESERVED':
      return decline('IN_PROGRESS');
    case 'PAID':
      return decline('ALREADY_COLLECTED');
    case 'AMOUNT':
      return decline('AMOUNT_MISMATCH');
    case 'OK':
      break;
  }

  const approve = respond(req, 'APPROVED', { ...de15, 38: approvalCode(req.fields[11] ?? '000000') });
  const submission = {
    op: {
      kind: 'reserve' as const,
      seen,
      campaign: campaign.code,
      beneficiaryId: id,
      amountMinor: amount,
      payoutStored,
      msg: { mti: req.mti, acquirer: req.fields[32]!, terminal: req.fields[41]!, stan: req.fields[11]!, rrn: req.fields[37]! },
      transmitted: req.fields[7]!,
      windowMs: campaign.confirmationWindowMs,
      approve: approve.fields,
      decline: (o: Outcome) => respond(req, o, de15).fields,
    },
    deadline,
    abandoned: false,
    epoch,
    reservedValue: gate.value ?? undefined,
    unavailable: unavailable().fields,
  };
  try {
    const r = await beforeDeadline(core.commits.submit(submission), deadline, 'group commit');
    switch (r.status) {
      case 'approved':
        core.scheduleSettlement(r.withdrawalId, campaign.confirmationWindowMs);
        return approve;
      case 'refused':
        return { mti: responseMti(req.mti), fields: r.fields };
      case 'duplicate':
        return await replayStored(core, req, seen, deadline, de15);
      default:
        return unavailable();
    }
  } catch (e) {
    // The group commit undoes the Redis reservation, or voids a commit that may have happened (in doubt).
    submission.abandoned = true;
    core.logger.warn('withdrawal answered 91: not committed', { error: (e as Error).message });
    return unavailable();
  }
}
