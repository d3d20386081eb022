// A bound on how many callers use PostgreSQL at once for one kind of work: an advice's own connections (a reversal is
// a transaction of several round trips). Unbounded, a burst of advices, each then a transaction of its own, took every
// connection of the pool, and the group commit of the 0200s waited behind them until both answered 91 (the bench's
// confirmation phase). Waiting is bounded too: at most maxQueue callers, each until its deadline.
import { DeadlinePassed } from './deadline.ts';

export class SlotsFull extends Error {
  constructor(what: string, maxQueue: number) {
    super(`${what}: ${maxQueue} already waiting`);
  }
}

interface Waiter {
  grant(): void;
  expired: boolean;
}

export class Slots {
  private used = 0;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly what: string, private readonly max: number, private readonly maxQueue: number) {}

  get inUse(): number {
    return this.used;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Runs fn in a slot, once one is free; fails with SlotsFull or DeadlinePassed without running it. */
  async run<T>(deadline: number, fn: () => Promise<T>): Promise<T> {
    if (this.used >= this.max) await this.wait(deadline);
    else this.used++;
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private wait(deadline: number): Promise<void> {
    if (this.waiting.length >= this.maxQueue) return Promise.reject(new SlotsFull(this.what, this.maxQueue));
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        expired: false,
        grant: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      // An expired waiter stays in the queue, marked: release() passes it by.
      const timer = setTimeout(() => {
        w.expired = true;
        reject(new DeadlinePassed(this.what));
      }, Math.max(0, deadline - Date.now()));
      this.waiting.push(w);
    });
  }

  /** The slot goes to the first waiter still waiting, else back to the pool. */
  private release(): void {
    for (let w = this.waiting.shift(); w; w = this.waiting.shift()) {
      if (!w.expired) return w.grant();
    }
    this.used--;
  }
}
