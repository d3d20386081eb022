// Store and forward, the sending half: every queued advice goes to the switch until a 39=00 answer acknowledges it.
// The first send uses the advice's own MTI (0220/0420); every later one, and every send of an advice found in the
// queue file after a restart, is a repeat (0221/0421), at most max_repeats of them, repeat_interval_ms apart.
// 39=91 (ledger unavailable) keeps it queued; any other answer, or running out of repeats, flags it for an operator.
import type { Logger } from '../../switch/log.ts';
import type { IsoMessage } from '../../switch/iso8583/index.ts';
import type { SafEntry, SafQueue } from './saf-queue.ts';

export interface ForwarderOptions {
  repeat_interval_ms: number;
  max_repeats: number;
  /** Advices awaiting an answer at once. */
  max_in_flight: number;
}

/** Thrown by the send function when no connection could take the message: not a send, so not a repeat used up. */
export class NotSentError extends Error {
  override readonly name = 'NotSentError';
}

interface Progress {
  /** Sent at least once in this process: every later send is a repeat. */
  sentBefore: boolean;
  repeatsUsed: number;
  nextAtMs: number;
  inFlight: boolean;
}

export function repeatMti(mti: string): string {
  return mti.slice(0, 3) + '1';
}

export class AdviceForwarder {
  acked = 0;
  repeatsSent = 0;
  private readonly progress = new Map<string, Progress>();
  private timer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private stopped = false;

  constructor(
    private readonly queue: SafQueue,
    private readonly send: (msg: IsoMessage) => Promise<IsoMessage>,
    private readonly options: ForwarderOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    const tick_ms = Math.max(10, Math.min(250, Math.floor(this.options.repeat_interval_ms / 4)));
    this.timer = setInterval(() => this.tick(), tick_ms);
    this.timer.unref();
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Look at the queue now (a new advice, a link that came up). */
  kick(): void {
    if (!this.stopped) setImmediate(() => this.tick());
  }

  /** Entries being sent or waiting for their next repeat (not those flagged for attention). */
  outstanding(): number {
    return this.queue.entries().filter((e) => e.attention === null).length;
  }

  /** Resolves true once the queue is empty, false if timeout_ms passes first (or only flagged entries remain). */
  async drained(timeout_ms: number): Promise<boolean> {
    const until = Date.now() + timeout_ms;
    while (this.queue.depth() > 0) {
      if (this.outstanding() === 0 || Date.now() >= until) return false;
      this.kick();
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }

  private tick(): void {
    if (this.stopped) return;
    const now = Date.now();
    for (const entry of this.queue.entries()) {
      if (this.inFlight >= this.options.max_in_flight) return;
      if (entry.attention !== null) continue;
      let p = this.progress.get(entry.id);
      if (!p) {
        p = { sentBefore: false, repeatsUsed: 0, nextAtMs: 0, inFlight: false };
        this.progress.set(entry.id, p);
      }
      if (p.inFlight || p.nextAtMs > now) continue;
      void this.sendOne(entry, p);
    }
  }

  private async sendOne(entry: SafEntry, p: Progress): Promise<void> {
    const isRepeat = entry.fromDisk || p.sentBefore;
    if (isRepeat && p.repeatsUsed >= this.options.max_repeats) {
      p.inFlight = true; // until the flag is on disk, no tick may pick it up again
      try {
        await this.flag(entry, `no 39=00 after ${this.options.max_repeats} repeats`);
      } finally {
        p.repeatsUsed = 0; // a fresh budget if an operator puts it back in line
        p.inFlight = false;
      }
      return;
    }
    p.inFlight = true;
    this.inFlight++;
    const msg: IsoMessage = { mti: isRepeat ? repeatMti(entry.msg.mti) : entry.msg.mti, fields: entry.msg.fields };
    try {
      const res = await this.send(msg);
      this.counted(p, isRepeat);
      const rc = res.fields[39];
      if (rc === '00') {
        await this.queue.ack(entry.id);
        this.progress.delete(entry.id);
        this.acked++;
      } else if (rc === '91') {
        p.nextAtMs = Date.now() + this.options.repeat_interval_ms;
      } else {
        await this.flag(entry, `answered ${res.mti} 39=${rc ?? 'none'}`);
      }
    } catch (e) {
      if (!(e instanceof NotSentError)) this.counted(p, isRepeat);
      p.nextAtMs = Date.now() + this.options.repeat_interval_ms;
      this.logger.debug('advice not acknowledged yet', { mti: msg.mti, error: (e as Error).message });
    } finally {
      p.inFlight = false;
      this.inFlight--;
    }
  }

  private counted(p: Progress, isRepeat: boolean): void {
    p.sentBefore = true;
    if (isRepeat) {
      p.repeatsUsed++;
      this.repeatsSent++;
    }
  }

  private async flag(entry: SafEntry, reason: string): Promise<void> {
    this.logger.warn('advice needs attention', { mti: entry.msg.mti, stan: entry.msg.fields[11], reason });
    try {
      await this.queue.flagAttention(entry.id, reason);
    } catch (e) {
      this.logger.error('could not flag an advice for attention', { error: (e as Error).message });
    }
  }
}
