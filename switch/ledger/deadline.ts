// Every store call on the money path ends by the request's deadline (Date.now() ms), so the answer (91 at worst)
// goes out within LIMITS.STORE_TIMEOUT_MS whatever a store does.
//
// A withdrawal waits on three stores in turn; a timer for each wait, thousands of times a second, was a visible
// share of the switch's CPU and garbage. Instead, deadlines that fall in the same DEADLINE_SLOT_MS share one timer
// and one rejection, which fires at the start of their slot: a call may give up at most DEADLINE_SLOT_MS early,
// never late.

/** Width of a shared deadline slot. */
export const DEADLINE_SLOT_MS = 5;

export class DeadlinePassed extends Error {
  constructor(what: string) {
    super(`${what}: no answer before the deadline`);
  }
}

const EXPIRED = Symbol('deadline slot expired');
const slots = new Map<number, Promise<never>>();

/** Rejects with EXPIRED at the start of the deadline's slot (at once if that has passed). */
function expiry(deadline: number): Promise<never> {
  const slot = Math.floor(deadline / DEADLINE_SLOT_MS) * DEADLINE_SLOT_MS;
  let p = slots.get(slot);
  if (!p) {
    p = new Promise<never>((_, reject) => {
      setTimeout(() => {
        slots.delete(slot);
        reject(EXPIRED);
      }, Math.max(0, slot - Date.now()));
    });
    p.catch(() => {});
    slots.set(slot, p);
  }
  return p;
}

export async function beforeDeadline<T>(p: Promise<T>, deadline: number, what: string): Promise<T> {
  try {
    return await Promise.race([p, expiry(deadline)]);
  } catch (e) {
    throw e === EXPIRED ? new DeadlinePassed(what) : e;
  }
}
