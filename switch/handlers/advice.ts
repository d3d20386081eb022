// 0220 / 0221: the cash was dispensed (partner-interface.md §4–6). The 0230 says 00 once the advice is recorded;
// a repeat is processed at most once and answered every time. While the ledger cannot record, 91 and nothing
// recorded: the bank repeats until it hears 00. Also the skeleton reversal.ts shares.
import type { IsoMessage } from '../iso8583/message.ts';
import { LIMITS } from '../config.ts';
import type { Handler, LedgerCore, RequestContext } from '../ledger/core.ts';
import { answered, recordAnswer, replay, replayStored, seenKeyOf } from '../ledger/dedupe.ts';
import { findSeen, type AdviceResult, type Answer, type MessageRef, type SeenKey } from '../ledger/journal.ts';
import { beforeDeadline } from '../ledger/deadline.ts';
import { originalKey } from '../ledger/messages.ts';
import { withConnection } from '../ledger/pg.ts';

export function messageRef(req: IsoMessage): MessageRef {
  const f = req.fields;
  return { mti: req.mti, acquirer: f[32]!, terminal: f[41]!, stan: f[11]!, rrn: f[37]! };
}

/** Runs one store call of an advice in a slot of core.advices. */
export type Slot = <R>(fn: () => Promise<R>) => Promise<R>;

/**
 * duplicate (stored answer or 94) · DE32 is the signed-on bank (58) · record the change and its 00 together (one
 * statement or transaction) · then bring Redis along (best effort: PostgreSQL is the record, Redis is repaired from it).
 */
export async function handleAdvice<T>(
  core: LedgerCore,
  req: IsoMessage,
  ctx: RequestContext,
  apply: (a: { seen: SeenKey; original: string; msg: MessageRef; answer: Answer }, deadline: number, slot: Slot) => Promise<AdviceResult<T>>,
  after: (change: T) => Promise<void>,
  /**
   * Look for a stored answer before anything else. Off where `apply` itself answers a key already stored with
   * 'duplicate' and changes nothing for it (the confirmations' batch): the common, new advice then saves a round trip.
   */
  readFirst = true,
): Promise<IsoMessage> {
  const seen = seenKeyOf(req, ctx.body);
  return core.keyLock.run(seen.cls + seen.key, async () => {
    const deadline = Date.now() + LIMITS.STORE_TIMEOUT_MS;
    const unavailable: Answer = { outcome: 'UNAVAILABLE', extra: {} };
    // This advice's own uses of a PostgreSQL connection, each in one of a few slots: a burst of advices waits here, not
    // in the connection pool ahead of the 0200s' batches. (A confirmation's batch is shared, and needs none.)
    const slot: Slot = (fn) => core.advices.run(deadline, fn);
    try {
      const stored = readFirst ? await slot(() => withConnection(core.db, 'stored answer', deadline, (q) => findSeen(q, seen))) : null;
      if (stored) return replay(stored, req, seen);
      if (req.fields[32] !== ctx.bank.code) {
        // Through the 0200s' group commit, which answers a key already stored from what is stored.
        return await recordAnswer(core, req, seen, { outcome: 'NOT_PARTICIPATING', extra: {} }, unavailable, deadline);
      }
      const answer: Answer = { outcome: 'APPROVED', extra: {} };
      const r = await apply({ seen, original: originalKey(req.fields), msg: messageRef(req), answer }, deadline, slot);
      if (r.change) {
        await after(r.change).catch((e) =>
          core.logger.warn('redis not updated after an advice (repaired from PostgreSQL later)', { error: (e as Error).message }),
        );
      }
      if (r.status === 'duplicate') return await slot(() => replayStored(core, req, seen, deadline));
      return answered(req, answer);
    } catch (e) {
      core.logger.warn('advice answered 91: not recorded', { mti: req.mti, error: (e as Error).message });
      return answered(req, unavailable);
    }
  });
}

export function adviceHandler(core: LedgerCore): Handler {
  return (req, ctx) =>
    handleAdvice(
      core, req, ctx,
      // Shares a statement with the other confirmations of the moment; past the deadline, 91 (a batch that still
      // commits has recorded it: the bank's 0221 then hears the stored 00).
      (a, deadline) => beforeDeadline(core.confirms.submit(a), deadline, 'confirmation'),
      async (settled) => {
        const epoch = core.recovery.epochOf(settled.campaign);
        if (epoch) await core.reservations.confirm(settled.campaign, settled.beneficiaryId, epoch);
      },
      false,
    );
}
