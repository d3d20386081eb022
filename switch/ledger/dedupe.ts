// partner-interface §6 for every financial request: the same request again (same key, same body) hears the
// answer stored the first time, the same key with another body hears 94. Inside one process, requests with the
// same key run one after the other, so a retransmission that overtakes its original waits and then replays it.
import type { FieldValues, IsoMessage } from '../iso8583/message.ts';
import { respond } from '../handlers/respond.ts';
import type { LedgerCore } from './core.ts';
import { beforeDeadline } from './deadline.ts';
import { findSeen, isTombstone, type Answer, type SeenKey, type Stored } from './journal.ts';
import { bodyHash, messageKey, mtiClass } from './messages.ts';
import { withConnection } from './pg.ts';

export function seenKeyOf(req: IsoMessage, body: Buffer): SeenKey {
  return { cls: mtiClass(req.mti), key: messageKey(req.fields), hash: bodyHash(body, req) };
}

/**
 * The stored answer for a retransmission, or 94 for another body; `extra` completes a fresh 94 (a 0210 carries
 * DE15). The same body echoes the same fields, so rebuilding the response from this request gives the very
 * response sent the first time (a 0221 hears 0230).
 */
export function replay(stored: Stored, req: IsoMessage, seen: SeenKey, extra: FieldValues = {}): IsoMessage {
  // Only after losing a race to a reversal of this very request: nothing was reserved, it was reversed earlier.
  if (isTombstone(stored)) return respond(req, 'REVERSED_EARLIER', extra);
  if (!stored.hash.equals(seen.hash)) return respond(req, 'DUPLICATE', extra);
  return answered(req, stored.answer);
}

/** The response to `req` that says `answer`. */
export function answered(req: IsoMessage, answer: Answer): IsoMessage {
  return respond(req, answer.outcome, answer.extra);
}

/** Runs callers with the same key one at a time, in arrival order. */
export class KeyLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((r) => (done = r));
    const tail = before.then(() => mine);
    this.tails.set(key, tail);
    await before;
    try {
      return await fn();
    } finally {
      done();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/** Someone stored this key while we worked: answer what they stored. */
export async function replayStored(core: LedgerCore, req: IsoMessage, seen: SeenKey, deadline: number, extra: FieldValues = {}): Promise<IsoMessage> {
  const stored = await withConnection(core.db, 'stored answer', deadline, (q) => findSeen(q, seen));
  if (!stored) throw new Error('a duplicate without a stored answer');
  return replay(stored, req, seen, extra);
}

/** A decision made from the in-memory roster that PostgreSQL did not take (status 'reread'): decide it again from PostgreSQL. */
export class Reread extends Error {
  constructor(readonly rosterVersion: string) {
    super('decided again from PostgreSQL');
  }
}

/**
 * Stores an answer that changes nothing else (a decline, an inquiry) through the group commit, and gives it.
 * When it cannot be stored the answer is `unavailable` (91), which is never stored: a retransmission tries again.
 * `rosterVersion`: decided from the in-memory roster at that version (throws Reread if PostgreSQL knows better).
 */
export async function recordAnswer(
  core: LedgerCore, req: IsoMessage, seen: SeenKey, answer: Answer, unavailable: Answer, deadline: number, rosterVersion?: string,
): Promise<IsoMessage> {
  let r;
  try {
    r = await beforeDeadline(core.commits.submit({ op: { kind: 'record', seen, answer, rosterVersion }, deadline, abandoned: false }), deadline, 'record');
    if (r.status === 'duplicate') return await replayStored(core, req, seen, deadline, unavailable.extra);
  } catch (e) {
    core.logger.warn('answer not stored: 91 instead', { error: (e as Error).message });
    return answered(req, unavailable);
  }
  if (r.status === 'reread') throw new Reread(r.rosterVersion);
  return answered(req, r.status === 'stored' ? answer : unavailable);
}
