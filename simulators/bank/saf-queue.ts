// Store and forward, the storage half: every 0220/0420 the bank owes the switch, kept in a file that survives a
// restart of the simulator. An append-only JSON-lines journal, fsync'd before enqueue() resolves; on open the
// journal is replayed and rewritten compactly (write a temporary file, fsync, rename, fsync the directory).
// A torn last line (the process died mid-write) is ignored: its enqueue() never resolved, so nobody relied on it.
import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { IsoMessage } from '../../switch/iso8583/message.ts';

export interface SafEntry {
  id: string;
  /** The advice as first sent (0220 or 0420); repeats change only the MTI. */
  msg: IsoMessage;
  enqueuedAt: string;
  /** Set after max_repeats unanswered repeats or an answer other than 00/91: an operator looks at it. */
  attention: string | null;
  /** Loaded from the file at open: it may have been sent before the restart, so it goes out as a repeat. */
  fromDisk: boolean;
}

type Event =
  | { op: 'add'; id: string; at: string; msg: IsoMessage }
  | { op: 'ack'; id: string }
  | { op: 'attention'; id: string; reason: string }
  | { op: 'retry'; id: string };

export const DEFAULT_MAX_QUEUE_ENTRIES = 100_000;
/** Rewrite the journal once it holds this many lines of finished business, and more than the live entries. */
const COMPACT_AFTER_DEAD_LINES = 5_000;

export class QueueFullError extends Error {}

export class SafQueue {
  private readonly live = new Map<string, SafEntry>();
  private handle: FileHandle | null = null;
  private pending: Array<{ ev: Event; resolve: () => void; reject: (e: Error) => void }> = [];
  private flushing: Promise<void> | null = null;
  private deadLines = 0;
  private closed = false;

  private constructor(
    readonly path: string,
    readonly maxEntries: number,
  ) {}

  /** Opens (or creates) the queue file and replays it. */
  static async open(path: string, maxEntries = DEFAULT_MAX_QUEUE_ENTRIES): Promise<SafQueue> {
    const q = new SafQueue(path, maxEntries);
    await mkdir(dirname(path), { recursive: true });
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read queue file ${path}: ${(e as Error).message}`);
    }
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let ev: Event;
      try {
        ev = JSON.parse(line) as Event;
      } catch {
        if (i >= lines.length - 2) return; // the torn tail of a crash
        throw new Error(`queue file ${path}: line ${i + 1} is not JSON; refusing to guess what it held`);
      }
      q.apply(ev, true);
    });
    await q.compact();
    q.handle = await open(path, 'a');
    return q;
  }

  private apply(ev: Event, fromDisk: boolean): void {
    if (ev.op === 'add') this.live.set(ev.id, { id: ev.id, msg: ev.msg, enqueuedAt: ev.at, attention: null, fromDisk });
    else if (ev.op === 'ack') this.live.delete(ev.id);
    else {
      const e = this.live.get(ev.id);
      if (e) e.attention = ev.op === 'attention' ? ev.reason : null;
    }
  }

  /** Durable when it resolves. Refuses beyond maxEntries: the caller must not take on business it cannot confirm. */
  async enqueue(msg: IsoMessage, now: Date = new Date()): Promise<SafEntry> {
    if (this.live.size + this.pending.length >= this.maxEntries) {
      throw new QueueFullError(`store-and-forward queue is full (${this.maxEntries} entries)`);
    }
    const ev: Event = { op: 'add', id: randomUUID(), at: now.toISOString(), msg };
    await this.append(ev);
    return this.live.get(ev.id)!;
  }

  hasRoom(): boolean {
    return this.live.size + this.pending.length < this.maxEntries;
  }

  async ack(id: string): Promise<void> {
    if (!this.live.has(id)) return;
    await this.append({ op: 'ack', id });
  }

  async flagAttention(id: string, reason: string): Promise<void> {
    const e = this.live.get(id);
    if (!e || e.attention === reason) return;
    await this.append({ op: 'attention', id, reason });
  }

  /** Puts every entry flagged for attention back in line; returns how many. */
  async retryAttention(): Promise<number> {
    const flagged = [...this.live.values()].filter((e) => e.attention !== null);
    for (const e of flagged) await this.append({ op: 'retry', id: e.id });
    return flagged.length;
  }

  entries(): SafEntry[] {
    return [...this.live.values()];
  }

  get(id: string): SafEntry | undefined {
    return this.live.get(id);
  }

  /** Advices not yet acknowledged, including those flagged for attention. */
  depth(): number {
    return this.live.size;
  }

  attentionCount(): number {
    let n = 0;
    for (const e of this.live.values()) if (e.attention !== null) n++;
    return n;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushing;
    await this.handle?.close();
    this.handle = null;
  }

  /**
   * Group commit: events queued while an fsync runs go out together in the next write. An event changes the
   * in-memory state only once it is on disk, in file order, so a compaction (run here too, between batches)
   * always writes exactly what the journal says.
   */
  private append(ev: Event): Promise<void> {
    if (this.closed) return Promise.reject(new Error('store-and-forward queue is closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ ev, resolve, reject });
      if (!this.flushing) this.flushing = this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.handle!.write(batch.map((p) => JSON.stringify(p.ev) + '\n').join(''));
        await this.handle!.datasync();
      } catch (e) {
        for (const p of batch) p.reject(new Error(`cannot write queue file ${this.path}: ${(e as Error).message}`));
        continue;
      }
      for (const p of batch) {
        this.apply(p.ev, false);
        if (p.ev.op !== 'add') this.deadLines++;
        if (p.ev.op === 'ack') this.deadLines++;
      }
      if (this.deadLines > COMPACT_AFTER_DEAD_LINES && this.deadLines > 2 * this.live.size) {
        try {
          await this.handle!.close();
          await this.compact();
        } catch {
          // The journal is still whole (the rename is the last step): compaction is only an optimisation.
        } finally {
          this.handle = await open(this.path, 'a');
        }
      }
      for (const p of batch) p.resolve();
    }
    this.flushing = null;
  }

  /** Rewrites the file with the live entries only. */
  private async compact(): Promise<void> {
    const tmp = `${this.path}.tmp`;
    const lines: string[] = [];
    for (const e of this.live.values()) {
      lines.push(JSON.stringify({ op: 'add', id: e.id, at: e.enqueuedAt, msg: e.msg } satisfies Event));
      if (e.attention !== null) lines.push(JSON.stringify({ op: 'attention', id: e.id, reason: e.attention } satisfies Event));
    }
    const fh = await open(tmp, 'w');
    try {
      await fh.write(lines.map((l) => l + '\n').join(''));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    syncDirectory(dirname(this.path));
    this.deadLines = 0;
  }
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse to fsync a directory; the rename itself is still atomic.
  }
}
