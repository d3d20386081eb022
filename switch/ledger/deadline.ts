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

export async function beforeDeadline<T>(p: Promise<T>, deadline: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlinePassed(what)), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}
