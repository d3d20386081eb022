// 0220 / 0221: the cash was dispensed (partner-interface.md §4–6). The 0230 says 00 once the advice is recorded;
// a repeat is processed at most once and answered every time. While the ledger cannot record, 91 and nothing
// recorded: the bank repeats until it hears 00. Also the skeleton reversal.ts shares.
import type { IsoMessage } from '../iso8583/message.ts';
import { LIMITS } from '../config.ts';
import type { Handler, LedgerCore, RequestContext } from '../ledger/core.ts';
import { answered, recordAnswer, replay, replayStored, seenKeyOf } from '../ledger/dedupe.ts';
import { confirm, findSeen, type AdviceResult, type Answer, type MessageRef, type SeenKey } from '../ledger/journal.ts';
import { originalKey } from '../ledger/messages.ts';
import { withConnection } from '../ledger/pg.ts';

export function messageRef(req: IsoMessage): MessageRef {
  const f = req.fields;
  return { mti: req.mti, acquirer: f[32]!, terminal: f[41]!, stan: f[11]!, rrn: f[37]! };
}

/**
 * duplicate (stored answer or 94) · DE32 is the signed-on bank (58) · record the change and its 00 in one
 * transaction · then bring Redis along (best effort: PostgreSQL is the record, Redis is repaired from it).
 */
export async function handleAdvice<T>(
  core: LedgerCore,
  req: IsoMessage,
  ctx: RequestContext,
  apply: (a: { seen: SeenKey; original: string; msg: MessageRef; answer: Answer }, deadline: number) => Promise<AdviceResult<T>>,
  after: (change: T) => Promise<void>,
): Promise<IsoMessage> {
  const seen = seenKeyOf(req, ctx.body);
  return core.keyLock.run(seen.cls + seen.key, async () => {
    const deadline = Date.now() + LIMITS.STORE_TIMEOUT_MS;
    const unavailable: Answer = { outcome: 'UNAVAILABLE', extra: {} };
    const recordIt = async (): Promise<IsoMessage> => {
      const stored = await withConnection(core.db, 'stored answer', deadline, (q) => findSeen(q, seen));
      if (stored) return replay(stored, req, seen);
      if (req.fields[32] !== ctx.bank.code) {
        return await recordAnswer(core, req, seen, { outcome: 'NOT_PARTICIPATING', extra: {} }, unavailable, deadline);
      }
      const answer: Answer = { outcome: 'APPROVED', extra: {} };
      const r = await apply({ seen, original: originalKey(req.fields), msg: messageRef(req), answer }, deadline);
      if (r.status === 'duplicate') return await replayStored(core, req, seen, deadline);
      if (r.change) {
        await after(r.change).catch((e) =>
          core.logger.warn('redis not updated after an advice (repaired from PostgreSQL later)', { error: (e as Error).message }),
        );
      }
      return answered(req, answer);
    };
    try {
      // A burst of advices waits for one of a few slots here, not in the connection pool ahead of the 0200s' batches.
      return await core.advices.run(deadline, recordIt);
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
      (a, deadline) => confirm(core.db, a, core.clock.now(), deadline),
      async (settled) => {
        const epoch = core.recovery.epochOf(settled.campaign);
        if (epoch) await core.reservations.confirm(settled.campaign, settled.beneficiaryId, epoch);
      },
    );
}
