// One connection of a certification case to the switch: the bank simulator's SwitchConnection (framing, codec, MAC
// check of what comes back, echo answers) with an inbox the runner can wait on, and a transcript of the traffic.
// Unlike a bank host, certification also sends what a bank must never send: any bytes, framed or not.
import { systemClock } from '../../switch/clock.ts';
import { createLogger } from '../../switch/log.ts';
import { describe, type IsoMessage } from '../../switch/iso8583/index.ts';
import { SwitchConnection } from '../bank/connection.ts';
import { isResponse } from '../bank/fields.ts';
import type { StanGenerator } from '../bank/stan.ts';

export interface Received {
  msg: IsoMessage;
  /** ms since the case started */
  atMs: number;
  /** Set when the message failed the MAC check (SwitchConnection drops those; certification reports them). */
  macError?: string;
}

export interface TranscriptLine {
  atMs: number;
  conn: string;
  dir: 'out' | 'in' | 'note';
  /** Already masked (describe / describeBytes / masked log lines). */
  text: string;
}

export interface WireOptions {
  name: string;
  host: string;
  port: number;
  bankCode: string;
  macKey: Buffer | null;
  stan: StanGenerator;
  connectTimeoutMs: number;
  /** ms since the case started */
  clock: () => number;
  log: (line: TranscriptLine) => void;
}

export class Wire {
  readonly inbox: Received[] = [];
  closed = false;
  closeReason = '';
  /** Responses taken by the runner or left over: how many arrived in all. */
  arrivals = 0;
  private waiters: Array<() => void> = [];

  private constructor(
    readonly name: string,
    readonly conn: SwitchConnection,
    private readonly o: WireOptions,
  ) {
    conn.on('traffic', (dir: 'in' | 'out', msg: IsoMessage) => {
      o.log({ atMs: o.clock(), conn: name, dir, text: describe(msg) });
      if (dir === 'in' && isResponse(msg.mti)) this.arrive({ msg, atMs: o.clock() });
    });
    conn.on('mac-error', (result: string, msg: IsoMessage) => {
      o.log({ atMs: o.clock(), conn: name, dir: 'in', text: `${describe(msg)}  [MAC ${result}]` });
      this.arrive({ msg, atMs: o.clock(), macError: result });
    });
    conn.on('close', (reason: string) => {
      this.closed = true;
      this.closeReason = reason;
      o.log({ atMs: o.clock(), conn: name, dir: 'note', text: `connection closed (${reason})` });
      this.wake();
    });
  }

  /** Connects (no sign-on: the runner does it, so that it shows in the transcript). Throws LinkDownError. */
  static async open(o: WireOptions): Promise<Wire> {
    const logger = createLogger({ conn: o.name }, 'warn', (line) => o.log({ atMs: o.clock(), conn: o.name, dir: 'note', text: line }));
    const conn = new SwitchConnection({
      host: o.host,
      port: o.port,
      bankCode: o.bankCode,
      macKey: o.macKey,
      stan: o.stan,
      clock: systemClock,
      logger,
      request_timeout_ms: 5_000,
      connect_timeout_ms: o.connectTimeoutMs,
      echo_interval_ms: 0,
      max_missed_echoes: 3,
      max_in_flight: 64,
      sign_on: false,
    });
    const wire = new Wire(o.name, conn, o);
    await conn.connect();
    o.log({ atMs: o.clock(), conn: o.name, dir: 'note', text: `connected to ${o.host}:${o.port}` });
    return wire;
  }

  private arrive(r: Received): void {
    this.arrivals++;
    this.inbox.push(r);
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** A message body, framed (the codec's 2-byte length prefix). */
  sendBody(body: Buffer, text: string): void {
    this.conn.sendRaw(body);
    this.o.log({ atMs: this.o.clock(), conn: this.name, dir: 'out', text });
  }

  /** Bytes exactly as given, no length prefix added: broken or oversized frames. */
  sendBytes(bytes: Buffer, text: string): void {
    this.conn.sendUnframed(bytes);
    this.o.log({ atMs: this.o.clock(), conn: this.name, dir: 'out', text });
  }

  /** The first response that matches, removed from the inbox; null after timeout_ms or once the connection is closed. */
  async take(match: (r: Received) => boolean, timeoutMs: number): Promise<Received | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex(match);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (this.closed || left <= 0) return null;
      await this.sleep(left);
    }
  }

  /** Resolves true once the switch has closed the connection, false after ms. */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.sleep(left);
    }
    return true;
  }

  /** Waits ms; returns the responses that arrived meanwhile (they stay in the inbox). */
  async quietFor(ms: number): Promise<Received[]> {
    const before = this.arrivals;
    const deadline = Date.now() + ms;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) break;
      await this.sleep(left);
    }
    return this.inbox.slice(this.inbox.length - Math.min(this.inbox.length, this.arrivals - before));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  close(reason: string): void {
    if (!this.closed) this.conn.close(reason);
  }
}
