// A closed-loop (or rate-limited) load driver for anything that speaks 2-byte-length frames: N connections, K requests in
// flight on each, responses matched by DE11 on their connection. Used against the switch and against a bare echo server,
// so the two figures are measured with the same client work.
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { decode, encode } from '../../switch/iso8583/codec.ts';
import { FrameDecoder, frame } from '../../switch/iso8583/framing.ts';
import type { IsoMessage } from '../../switch/iso8583/message.ts';

export interface DriveOptions {
  port: number;
  host?: string;
  connections: number;
  inFlightPerConnection: number;
  durationMs: number;
  /** Total requests across all connections when set (bounded either way by duration_ms). */
  maxRequests?: number;
  /** Open-loop pacing: requests per second across all connections; absent = as fast as the server answers. */
  ratePerSecond?: number;
  /** Sent and answered on each connection before the clock starts (sign-on). */
  prelude?: (connection: number) => IsoMessage[];
  /** Writes one line per answer, "<sent at, ms from the start> <latency ms>", to see when the slow ones happened. */
  timelineFile?: string;
  /** The next request of a connection; its DE11 must be unique among that connection's requests in flight. Null: no more. */
  next(connection: number, seq: number): IsoMessage | null;
  /**
   * What the client sends once a request is answered (a bank's 0220 after an approval), on the same connection, in the
   * slot the answer freed, outside the pacing; counted apart (DriveResult.followUps). Null: nothing.
   */
  followUp?(request: IsoMessage, answer: IsoMessage): IsoMessage | null;
}

export interface DriveResult {
  sent: number;
  answered: number;
  elapsedMs: number;
  perSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  codes: Record<string, number>;
  /** The follow-ups' answers, when followUp was given. */
  followUps?: { answered: number; latencyMs: Latencies; codes: Record<string, number> };
}

type Latencies = { p50: number; p90: number; p99: number; max: number };

function summary(latencies: number[]): Latencies {
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? NaN };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function drive(o: DriveOptions): Promise<DriveResult> {
  const latencies: number[] = [];
  const timeline: string[] | null = o.timelineFile ? [] : null;
  const codes: Record<string, number> = {};
  const followed = { answered: 0, latencies: [] as number[], codes: {} as Record<string, number> };
  let sent = 0;
  let answered = 0;
  let stopping = false;
  const budget = o.maxRequests ?? Infinity;
  const conns = await Promise.all(Array.from({ length: o.connections }, (_, i) => open(o, i)));
  const started = performance.now();
  const deadline = started + o.durationMs;

  await new Promise<void>((resolve) => {
    let live = conns.length;
    const close = (c: Conn) => {
      if (c.done) return;
      c.done = true;
      c.socket.destroy();
      if (--live === 0) {
        if (ticker) clearTimeout(ticker);
        resolve();
      }
    };
    /** Sends one request on `c` if it may; false when it may not (full, finished, or out of requests). */
    const send = (c: Conn): boolean => {
      if (stopping || c.exhausted || c.pending.size >= o.inFlightPerConnection || sent >= budget) return false;
      if (performance.now() >= deadline) {
        stopping = true;
        return false;
      }
      const msg = o.next(c.index, c.seq++);
      if (!msg) {
        c.exhausted = true;
        return false;
      }
      c.pending.set(msg.fields[11]!, { at: performance.now(), msg: o.followUp ? msg : null });
      sent++;
      c.socket.write(frame(encode(msg)));
      return true;
    };
    const finishIfDone = (c: Conn) => {
      if (c.pending.size === 0 && (stopping || c.exhausted || sent >= budget || performance.now() >= deadline)) close(c);
    };

    // Open loop: one timer for all connections sends what is due by now on whichever connections have room, so the
    // pacing costs the driver the same whatever the number of connections (a timer per connection cost it 3x more).
    let ticker: NodeJS.Timeout | null = null;
    let cursor = 0;
    const due = () => (o.ratePerSecond ? Math.floor(((performance.now() - started) * o.ratePerSecond) / 1000) + 1 - sent : Infinity);
    const dispatch = () => {
      let owed = due();
      for (let tried = 0; owed > 0 && tried < conns.length; ) {
        const c = conns[cursor]!;
        cursor = (cursor + 1) % conns.length;
        if (!c.done && send(c)) {
          owed--;
          tried = 0;
        } else tried++;
      }
    };
    const tick = () => {
      ticker = null;
      if (performance.now() >= deadline) stopping = true;
      if (!stopping) dispatch();
      for (const c of conns) finishIfDone(c);
      if (!stopping) ticker = setTimeout(tick, 1);
    };

    for (const c of conns) {
      c.onMessage = (m) => {
        const p = c.pending.get(m.fields[11] ?? '');
        if (p === undefined) return;
        c.pending.delete(m.fields[11]!);
        const rc = m.fields[39] ?? '--';
        if (p.followUp) {
          followed.answered++;
          followed.latencies.push(performance.now() - p.at);
          followed.codes[rc] = (followed.codes[rc] ?? 0) + 1;
        } else {
          answered++;
          latencies.push(performance.now() - p.at);
          if (timeline) timeline.push(`${(p.at - started).toFixed(1)} ${(performance.now() - p.at).toFixed(2)}`);
          codes[rc] = (codes[rc] ?? 0) + 1;
          const next = p.msg && o.followUp!(p.msg, m);
          if (next) {
            c.pending.set(next.fields[11]!, { at: performance.now(), msg: null, followUp: true });
            c.socket.write(frame(encode(next)));
          }
        }
        if (o.ratePerSecond) {
          if (due() > 0) send(c);
        } else while (send(c));
        finishIfDone(c);
      };
      c.onClose = () => close(c);
    }
    if (o.ratePerSecond) tick();
    else for (const c of conns) {
      while (send(c));
      finishIfDone(c);
    }
    // A hard stop: nothing waits more than 5 s past the duration for answers that will not come.
    setTimeout(() => {
      stopping = true;
      for (const c of conns) close(c);
    }, o.durationMs + 5_000).unref();
  });
  const elapsedMs = performance.now() - started;
  if (timeline) writeFileSync(o.timelineFile!, timeline.join('\n') + '\n');
  return {
    sent,
    answered,
    elapsedMs,
    perSecond: (answered / elapsedMs) * 1000,
    latencyMs: summary(latencies),
    codes,
    followUps: o.followUp ? { answered: followed.answered, latencyMs: summary(followed.latencies), codes: followed.codes } : undefined,
  };
}

interface Conn {
  index: number;
  socket: net.Socket;
  onMessage: (m: IsoMessage) => void;
  onClose: () => void;
  done: boolean;
  /** DE11 → when it was sent, and the request when a follow-up may come of it */
  pending: Map<string, { at: number; msg: IsoMessage | null; followUp?: true }>;
  seq: number;
  exhausted: boolean;
}

async function open(o: DriveOptions, index: number): Promise<Conn> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(o.port, o.host ?? '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  socket.setNoDelay(true);
  const decoder = new FrameDecoder();
  const c: Conn = { index, socket, onMessage: () => {}, onClose: () => {}, done: false, pending: new Map(), seq: 0, exhausted: false };
  socket.on('data', (chunk) => {
    for (const body of decoder.push(chunk)) c.onMessage(decode(body));
  });
  socket.on('close', () => c.onClose());
  socket.on('error', () => {});
  for (const m of o.prelude?.(index) ?? []) {
    const answered = new Promise<void>((resolve) => (c.onMessage = () => resolve()));
    socket.write(frame(encode(m)));
    await answered;
  }
  c.onMessage = () => {};
  return c;
}

/** A trivial echo server with the same framing: the ceiling any switch on this machine is compared with. */
export async function startEchoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const decoder = new FrameDecoder();
    socket.on('data', (chunk) => {
      for (const body of decoder.push(chunk)) socket.write(frame(body));
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { port, close: () => new Promise((r) => server.close(() => r())) };
}
