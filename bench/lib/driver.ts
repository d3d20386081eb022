// A closed-loop (or rate-limited) load driver for anything that speaks 2-byte-length frames: N connections, K requests in
// flight on each, responses matched by DE11 on their connection. Used against the switch and against a bare echo server,
// so the two figures are measured with the same client work.
import net from 'node:net';
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
  /** The next request of a connection; its DE11 must be unique among that connection's requests in flight. Null: no more. */
  next(connection: number, seq: number): IsoMessage | null;
}

export interface DriveResult {
  sent: number;
  answered: number;
  elapsedMs: number;
  perSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  codes: Record<string, number>;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function drive(o: DriveOptions): Promise<DriveResult> {
  const latencies: number[] = [];
  const codes: Record<string, number> = {};
  let sent = 0;
  let answered = 0;
  let stopping = false;
  const budget = o.maxRequests ?? Infinity;
  const conns = await Promise.all(Array.from({ length: o.connections }, (_, i) => open(o, i)));
  const started = performance.now();
  const deadline = started + o.durationMs;
  const intervalMs = o.ratePerSecond ? 1000 / o.ratePerSecond : 0;
  let nextDue = started;

  await new Promise<void>((resolve) => {
    let open = conns.length;
    const finish = () => {
      if (--open === 0) resolve();
    };
    for (const c of conns) {
      let seq = 0;
      const pending = new Map<string, number>();
      let exhausted = false;
      const pump = () => {
        while (!stopping && !exhausted && pending.size < o.inFlightPerConnection && sent < budget) {
          const now = performance.now();
          if (now >= deadline) {
            stopping = true;
            break;
          }
          if (intervalMs) {
            if (now < nextDue) {
              setTimeout(pump, Math.max(0, nextDue - now));
              return;
            }
            nextDue += intervalMs;
          }
          const msg = o.next(c.index, seq++);
          if (!msg) {
            exhausted = true;
            break;
          }
          pending.set(msg.fields[11]!, performance.now());
          sent++;
          c.socket.write(frame(encode(msg)));
        }
        if (pending.size === 0 && (stopping || exhausted || sent >= budget) && !c.done) {
          c.done = true;
          c.socket.destroy();
          finish();
        }
      };
      c.onMessage = (m) => {
        const t0 = pending.get(m.fields[11] ?? '');
        if (t0 === undefined) return;
        pending.delete(m.fields[11]!);
        answered++;
        latencies.push(performance.now() - t0);
        const rc = m.fields[39] ?? '--';
        codes[rc] = (codes[rc] ?? 0) + 1;
        pump();
      };
      c.onClose = () => {
        if (!c.done) {
          c.done = true;
          finish();
        }
      };
      pump();
    }
    // A hard stop: nothing waits more than 5 s past the duration for answers that will not come.
    setTimeout(() => {
      stopping = true;
      for (const c of conns) c.socket.destroy();
    }, o.durationMs + 5_000).unref();
  });
  const elapsedMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    sent,
    answered,
    elapsedMs,
    perSecond: (answered / elapsedMs) * 1000,
    latencyMs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? NaN },
    codes,
  };
}

interface Conn {
  index: number;
  socket: net.Socket;
  onMessage: (m: IsoMessage) => void;
  onClose: () => void;
  done: boolean;
}

async function open(o: DriveOptions, index: number): Promise<Conn> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(o.port, o.host ?? '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  socket.setNoDelay(true);
  const decoder = new FrameDecoder();
  const c: Conn = { index, socket, onMessage: () => {}, onClose: () => {}, done: false };
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
