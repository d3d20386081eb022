// Every store call on the money path ends by the request's deadline (Date.now() ms), so the answer (91 at worst)
// goes out within LIMITS.STORE_TIMEOUT_MS whatever a store does.

export class DeadlinePassed extends Error {
  constructor(what: string) {
    super(`${what}: no answer before the deadline`);
  }
}

export function deadlineIn(ms: number): number {
  return Date.now() + ms;
}

export function beforeDeadline<T>(p: Promise<T>, deadline: number, what: string): Promise<T> {
  // One promise, one timer and two callbacks per wait; no Promise.race, whose second promise and reactions (and an
  // async frame around it) were an eighth of what the switch allocated per withdrawal.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(expire, Math.max(0, deadline - Date.now()), reject, what);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

function expire(reject: (e: unknown) => void, what: string): void {
  reject(new DeadlinePassed(what));
}
