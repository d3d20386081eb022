// 0200: withdrawal (DE3 010000) and entitlement inquiry (310000), partner-interface.md §5–7.
// Checks in the §7 order from "duplicate" on (the link did MAC, format and sign-on); the rules are pure
// (ledger/rules.ts); a withdrawal is approved only after Redis reserved it and PostgreSQL committed it.
import { strict as assert } from 'node:assert';
import type { IsoMessage } from '../iso8583/message.ts';
import { parseTlv } from '../iso8583/de48.ts';
import { LIMITS } from '../config.ts';
import { hashIdentifier } from '../roster/hashing.ts';
import type { Handler, LedgerCore, RequestContext } from '../ledger/core.ts';
import type { CampaignInfo } from '../ledger/campaign-cache.ts';
import { answered, recordAnswer, replay, replayStored, Reread, seenKeyOf } from '../ledger/dedupe.ts';
import { beforeDeadline, DeadlinePassed } from '../ledger/deadline.ts';
import { InDoubtError } from '../ledger/pg.ts';
import type { Answer, ReadResult, SeenKey } from '../ledger/journal.ts';
import type { Submission } from '../ledger/group-commit.ts';
import { amountMinor, n12 } from '../ledger/messages.ts';
import { decideWithdrawal, PROCESSING, type RosterEntry } from '../ledger/rules.ts';
import type { IndexedEntry } from '../ledger/roster-index.ts';
import type { Reserved } from '../ledger/reservations.ts';
import type { Outcome } from './outcomes.ts';
import { settlementDate } from './respond.ts';

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
    return core.keyLock.run(seen.cls + seen.key, async () => {
      const deadline = Date.now() + LIMITS.STORE_TIMEOUT_MS;
      try {
        return await handle(core, req, ctx, seen, deadline, true);
      } catch (e) {
        if (!(e instanceof Reread)) throw e;
        // Nothing of the first decision was committed (and its Redis reservation is undone): PostgreSQL decides now.
        core.rosters.counts.reread++;
        core.rosters.versionSeen(e.rosterVersion);
        return handle(core, req, ctx, seen, deadline, false);
      }
    });
  };
}

/** A card found in the in-memory roster, as the rules see it: no payout state (Redis and the group commit decide those). */
function entryFromCopy(e: IndexedEntry): ReadResult {
  const entry: RosterEntry = {
    beneficiaryId: e.beneficiaryId, superseded: e.superseded, isSelf: e.isSelf, isGuardian: e.isGuardian, birthDate: e.birthDate, payout: null,
  };
  return { seen: null, tombstoned: false, entry, payoutStored: e.payoutStored };
}

/**
 * `fromCopy`: a withdrawal whose card is in this instance's copy of the roster is decided without reading PostgreSQL;
 * what it had no means to know (an answer already stored for the key, a tombstone, a roster changed since) the group
 * commit finds, commits nothing, and the request is decided again from PostgreSQL (Reread).
 */
async function handle(
  core: LedgerCore, req: IsoMessage, ctx: RequestContext, seen: SeenKey, deadline: number, fromCopy: boolean,
): Promise<IsoMessage> {
  const now = core.clock.now();
  const de15 = { 15: settlementDate(now) };
  const unavailable: Answer = { outcome: 'UNAVAILABLE', extra: de15 };
  // Its earlier attempt may have committed while the client heard 91: nothing new until that is undone.
  if (core.commits.inDoubt.has(seen.cls, seen.key)) return answered(req, unavailable);

  const tags = parseTlv(req.fields[48] ?? '');
  let campaign: CampaignInfo | null;
  let read: ReadResult;
  let rosterVersion: string | undefined;
  try {
    campaign = await core.campaigns.select(tags.get('CP'), deadline);
    const hash = (kind: 'nhi' | 'id', tag: string) => (campaign ? hashIdentifier(campaign.hashKey, kind, tags.get(tag) ?? '') : null);
    const nhiHash = hash('nhi', 'NH');
    const claimantHash = hash('id', 'ID');
    const copy = fromCopy && campaign && req.fields[3] === PROCESSING.WITHDRAWAL ? core.rosters.current(campaign.code) : null;
    // A card the copy does not hold may have been imported since: PostgreSQL is asked.
    const found = copy && nhiHash && claimantHash ? copy.lookup(nhiHash, claimantHash) : null;
    if (found) {
      read = entryFromCopy(found);
      rosterVersion = copy!.version;
      core.rosters.counts.fromCopy++;
    } else {
      const asked = performance.now();
      read = await beforeDeadline(
        core.reads.submit({ seen, campaign: campaign?.code ?? null, nhiHash, claimantHash }),
        deadline,
        'roster read',
      );
      core.stages.record('roster_read', performance.now() - asked);
      core.rosters.counts.fromPostgres++;
    }
  } catch (e) {
    core.logger.warn('withdrawal answered 91: PostgreSQL unavailable', { error: (e as Error).message });
    return answered(req, unavailable);
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
    atmDate: req.fields[13] ?? '',
    now,
    amountMinor: amount,
  });
  if (decision.outcome !== 'APPROVED') {
    return recordAnswer(core, req, seen, { outcome: decision.outcome, extra: de15 }, unavailable, deadline, rosterVersion);
  }
  if (decision.inquiry) {
    const answer: Answer = { outcome: 'APPROVED', extra: { ...de15, 54: remainingAmountField(decision.remainingMinor) } };
    return recordAnswer(core, req, seen, answer, unavailable, deadline);
  }
  return reserve(core, req, seen, campaign!, read.entry!, read.payoutStored, amount, now, deadline, unavailable, rosterVersion);
}

async function reserve(
  core: LedgerCore, req: IsoMessage, seen: SeenKey, campaign: CampaignInfo, entry: RosterEntry, payoutStored: boolean,
  amount: number, now: Date, deadline: number, unavailable: Answer, rosterVersion: string | undefined,
): Promise<IsoMessage> {
  const de15 = { 15: unavailable.extra[15]! };
  const no = (outcome: Outcome): Answer => ({ outcome, extra: de15 });
  const record = (outcome: Outcome) => recordAnswer(core, req, seen, no(outcome), unavailable, deadline, rosterVersion);
  const id = entry.beneficiaryId;
  let epoch = core.recovery.epochOf(campaign.code);
  let gate: Reserved;
  try {
    if (!epoch) {
      // Redis is not known to hold this campaign (flushed, restarted, rebuilding): never approve from it.
      if (!(await beforeDeadline(core.recovery.ensure(campaign.code), deadline, 'redis epoch'))) return answered(req, unavailable);
      epoch = core.recovery.epochOf(campaign.code)!;
    }
    const attempt = () => beforeDeadline(core.reservations.reserve(campaign.code, id, epoch!, amount, now), deadline, 'reserve');
    const asked = performance.now();
    gate = await attempt();
    core.stages.record('redis_reserve', performance.now() - asked);
    if (gate.status === 'NOT_READY') {
      if (!(await beforeDeadline(core.recovery.notReady(campaign.code, id), deadline, 'redis recovery'))) return answered(req, unavailable);
      epoch = core.recovery.epochOf(campaign.code);
      if (!epoch) return answered(req, unavailable);
      gate = await attempt();
    }
    if (gate.status === 'PAID' || gate.status === 'AMOUNT') {
      // PostgreSQL said AVAILABLE with this amount a moment ago: Redis may be stale. Make it agree, then ask again.
      await core.recovery.repair(campaign.code, id, gate.value, deadline);
      gate = await attempt();
    }
  } catch (e) {
    core.logger.warn('withdrawal answered 91: Redis unavailable', { error: (e as Error).message });
    return answered(req, unavailable);
  }
  switch (gate.status) {
    case 'NOT_READY':
      return answered(req, unavailable);
    case 'RESERVED':
      return record('IN_PROGRESS');
    case 'PAID':
      return record('ALREADY_COLLECTED');
    case 'AMOUNT':
      return record('AMOUNT_MISMATCH');
    case 'OK':
      break;
  }

  const approve: Answer = { outcome: 'APPROVED', extra: { ...de15, 38: approvalCode(req.fields[11] ?? '000000') } };
  const submission: Submission = {
    op: {
      kind: 'reserve',
      seen,
      campaign: campaign.code,
      beneficiaryId: id,
      amountMinor: amount,
      payoutStored,
      msg: { mti: req.mti, acquirer: req.fields[32]!, terminal: req.fields[41]!, stan: req.fields[11]!, rrn: req.fields[37]! },
      transmitted: req.fields[7]!,
      windowMs: campaign.confirmationWindowMs,
      approve,
      decline: no,
      rosterVersion,
    },
    deadline,
    abandoned: false,
    epoch,
    reservedValue: gate.value ?? undefined,
    unavailable,
  };
  let r;
  try {
    const submitted = performance.now();
    r = await beforeDeadline(core.commits.submit(submission), deadline, 'group commit');
    core.stages.record('group_commit', performance.now() - submitted);
    switch (r.status) {
      case 'approved':
        core.scheduleSettlement(r.withdrawalId, campaign.confirmationWindowMs);
        return answered(req, approve);
      case 'refused':
        return answered(req, r.answer);
      case 'duplicate':
        return await replayStored(core, req, seen, deadline, de15);
      case 'reread':
        break; // thrown below, outside this catch
      default:
        return answered(req, unavailable);
    }
  } catch (e) {
    // The group commit undoes the Redis reservation, or voids a commit that may have happened (in doubt).
    submission.abandoned = true;
    // Its commit may still happen: kept in doubt (in Redis too) before the 91 goes out, so that even a switch that
    // dies now leaves it to be voided, not settled as paid at the end of the window.
    if (e instanceof DeadlinePassed || e instanceof InDoubtError) await core.commits.told91(submission);
    core.logger.warn('withdrawal answered 91: not committed', { error: (e as Error).message });
    return answered(req, unavailable);
  }
  assert(r.status === 'reread', 'every other outcome of the group commit answered above');
  throw new Reread(r.rosterVersion);
}
