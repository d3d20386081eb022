// One TCP connection from a partner host: framing in, the checks every request passes in the order of
// partner-interface.md §7 (MAC, format, signed on), then the handler; responses go out as they complete.
import type { Socket } from 'node:net';
import { LIMITS } from '../config.ts';
import type { Bank } from '../banks.ts';
import type { Logger } from '../log.ts';
import type { IsoMessage } from '../iso8583/message.ts';
import { CodecError, decode, encode } from '../iso8583/codec.ts';
import { FrameDecoder, FrameTooLargeError, frame } from '../iso8583/framing.ts';
import { signMessage, verifyMac } from '../iso8583/mac.ts';
import { describe, describeBytes } from '../iso8583/mask.ts';
import { respond, settlementDate } from '../handlers/respond.ts';
import type { Clock } from '../clock.ts';
import type { Outcome } from '../handlers/outcomes.ts';
import { handleNetwork, type NetworkLink } from '../handlers/network.ts';
import { formatProblem } from './requirements.ts';
import type { Latencies } from './latency.ts';

export interface RequestContext {
  bank: Bank;
  /** The request's bytes as received (MAC included): duplicates are compared on these. */
  body: Buffer;
}
export type RequestHandler = (req: IsoMessage, ctx: RequestContext) => Promise<IsoMessage>;

export interface LinkOptions {
  maxFrameBytes: number;
  maxInFlight: number;
  maxWriteBufferBytes: number;
  echoIntervalMs: number;
  missedEchoesBeforeClose: number;
  readTimeoutMs: number;
}

export const DEFAULT_LINK_OPTIONS: LinkOptions = {
  maxFrameBytes: LIMITS.MAX_FRAME_BYTES,
  maxInFlight: LIMITS.MAX_IN_FLIGHT_PER_CONNECTION,
  maxWriteBufferBytes: LIMITS.MAX_WRITE_BUFFER_BYTES,
  echoIntervalMs: LIMITS.ECHO_INTERVAL_MS,
  missedEchoesBeforeClose: LIMITS.MISSED_ECHOES_BEFORE_CLOSE,
  readTimeoutMs: LIMITS.READ_TIMEOUT_MS,
};

export interface SessionDeps {
  findBank(code: string): Promise<Bank | null>;
  /** The handler of a financial request MTI (0200, 0220, 0221, 0420, 0421), if one is wired. */
  handlerFor(mti: string): RequestHandler | undefined;
  nextStan(): string;
  clock: Clock;
  logger: Logger;
  options: LinkOptions;
  /** Where the time from taking a financial request up to its answer is recorded, per MTI. */
  latencies?: Latencies;
}

const FINANCIAL = new Set(['0200', '0220', '0221', '0420', '0421']);

/** A response MTI has an odd function digit (0810, 0210 …): the bank answering something we sent. */
function isResponse(mti: string): boolean {
  return Number(mti[2]) % 2 === 1;
}

function transmissionTime(now: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return p(now.getUTCMonth() + 1) + p(now.getUTCDate()) + p(now.getUTCHours()) + p(now.getUTCMinutes()) + p(now.getUTCSeconds());
}

export class Session implements NetworkLink {
  bank: Bank | null = null;
  readonly id: string;
  readonly stats = { received: 0, sent: 0, dropped: 0, keepAlives: 0 };
  lastReceivedAt = Date.now();
  private readonly decoder: FrameDecoder;
  private inFlight = 0;
  private readonly queued: Buffer[] = [];
  private outstandingEchoes = 0;
  private timer: NodeJS.Timeout;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private readonly log: Logger;

  constructor(private readonly socket: Socket, private readonly deps: SessionDeps) {
    this.id = `${socket.remoteAddress}:${socket.remotePort}`;
    this.log = deps.logger.child({ conn: this.id });
    this.decoder = new FrameDecoder(deps.options.maxFrameBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (e) => this.log.warn('socket error', { error: e.message }));
    socket.on('close', () => this.onClose());
    const tickMs = Math.max(10, Math.min(deps.options.echoIntervalMs, deps.options.readTimeoutMs) / 4);
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  signOn(bank: Bank): void {
    this.bank = bank;
    this.log.info('signed on', { bank: bank.code });
  }

  signOff(): void {
    if (this.bank) this.log.info('signed off', { bank: this.bank.code });
    this.bank = null;
  }

  /** Resolves when nothing is in flight (for a graceful shutdown). */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.queued.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(reason: string): void {
    if (this.closed) return;
    this.log.info('closing connection', { reason });
    this.socket.end();
    this.socket.destroySoon?.();
  }

  private onData(chunk: Buffer): void {
    this.lastReceivedAt = Date.now();
    this.outstandingEchoes = 0;
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      if (e instanceof FrameTooLargeError) {
        this.log.warn('frame longer than the limit: closing', { error: e.message });
        this.socket.destroy();
        return;
      }
      throw e;
    }
    this.stats.keepAlives = this.decoder.keepAlives;
    for (const f of frames) this.queued.push(f);
    this.pump();
  }

  /** Starts queued frames while under the in-flight limit; above it, stops reading from the socket (backpressure). */
  private pump(): void {
    while (this.queued.length > 0 && this.inFlight < this.deps.options.maxInFlight) {
      const body = this.queued.shift()!;
      this.inFlight++;
      this.stats.received++;
      this.process(body)
        .catch((e) => this.log.error('request failed', { error: (e as Error).message }))
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
    if (this.queued.length > 0 || this.inFlight >= this.deps.options.maxInFlight) this.socket.pause();
    else this.socket.resume();
    if (this.inFlight === 0 && this.queued.length === 0) {
      const waiters = this.idleWaiters.splice(0);
      for (const w of waiters) w();
    }
  }

  private async process(body: Buffer): Promise<void> {
    const takenAt = performance.now();
    let msg: IsoMessage | null = null;
    let error: CodecError | null = null;
    try {
      msg = decode(body);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      error = e;
    }
    const mti = msg?.mti ?? error?.mti;
    if (!mti) {
      this.stats.dropped++;
      this.log.warn('undecodable frame dropped', { frame: describeBytes(body), error: error?.message });
      return;
    }
    const seen: IsoMessage = msg ?? { mti, fields: error?.partial ?? {} };
    if (isResponse(mti)) return this.onResponse(seen);

    // Who is speaking decides the MAC key: the signed-on bank, or the one DE32 names (a sign-on).
    const de32 = seen.fields[32];
    const speaker = this.bank ?? (de32 ? await this.deps.findBank(de32) : null);
    if (speaker?.macKey) {
      const mac = verifyMac(body, speaker.macKey);
      if (mac !== 'ok') {
        this.log.warn('MAC check failed', { result: mac, msg: describe(seen) });
        return this.reply(seen, speaker, 'MAC');
      }
    }
    if (error || !msg) {
      this.log.warn('malformed request', { error: error?.message, msg: describe(seen) });
      return this.reply(seen, speaker, 'FORMAT');
    }
    const problem = formatProblem(msg);
    if (problem) {
      this.log.warn('format error', { problem, msg: describe(msg) });
      return this.reply(msg, speaker, 'FORMAT');
    }
    if (mti === '0800') return this.send(await handleNetwork(msg, this, this.deps.findBank), this.bank ?? speaker);
    if (!FINANCIAL.has(mti)) return this.reply(msg, speaker, 'FORMAT');
    if (!this.bank) return this.reply(msg, speaker, 'NOT_SIGNED_ON');
    const handler = this.deps.handlerFor(mti);
    // Until the ledger is wired nothing can be approved: fail closed.
    if (!handler) return this.reply(msg, this.bank, 'SYSTEM');
    let response: IsoMessage;
    try {
      response = await handler(msg, { bank: this.bank, body });
    } catch (e) {
      this.log.error('handler failed', { error: (e as Error).message, msg: describe(msg) });
      response = respond(msg, 'SYSTEM', this.settlementField(msg));
    }
    this.send(response, this.bank);
    this.deps.latencies?.record(mti, performance.now() - takenAt);
  }

  private onResponse(msg: IsoMessage): void {
    if (msg.mti === '0810' && msg.fields[70] === '301') return; // echo answered: onData already reset the count
    this.log.debug('unsolicited response ignored', { msg: describe(msg) });
  }

  /** The link's own answers (63, 30, 91, 96). */
  private reply(req: IsoMessage, bank: Bank | null, outcome: Outcome): void {
    this.send(respond(req, outcome, this.settlementField(req)), bank);
  }

  /** A 0210 carries the settlement date, whoever declines it. */
  private settlementField(req: IsoMessage): { 15?: string } {
    return req.mti === '0200' ? { 15: settlementDate(this.deps.clock.now()) } : {};
  }

  private send(msg: IsoMessage, bank: Bank | null): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    let body: Buffer;
    try {
      body = bank?.macKey ? signMessage(msg, bank.macKey) : encode(msg);
    } catch (e) {
      this.log.error('response could not be encoded', { error: (e as Error).message, msg: describe(msg) });
      return;
    }
    if (this.socket.writableLength > this.deps.options.maxWriteBufferBytes) {
      this.log.warn('peer does not read its responses: closing');
      this.socket.destroy();
      return;
    }
    this.stats.sent++;
    // Responses finished in the same turn (a group commit answers many at once) leave in one write.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(frame(body));
  }

  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  private tick(): void {
    const idleMs = Date.now() - this.lastReceivedAt;
    if (this.decoder.pendingBytes > 0 && idleMs >= this.deps.options.readTimeoutMs) {
      this.log.warn('incomplete frame timed out: closing');
      this.socket.destroy();
      return;
    }
    if (idleMs < this.deps.options.echoIntervalMs * (this.outstandingEchoes + 1)) return;
    if (this.outstandingEchoes >= this.deps.options.missedEchoesBeforeClose) {
      this.log.warn('idle link missed its echoes: closing', { missed: this.outstandingEchoes });
      this.socket.destroy();
      return;
    }
    this.outstandingEchoes++;
    const now = new Date();
    this.send({ mti: '0800', fields: { 7: transmissionTime(now), 11: this.deps.nextStan(), 70: '301' } }, this.bank);
  }

  private onClose(): void {
    this.closed = true;
    clearInterval(this.timer);
    const waiters = this.idleWaiters.splice(0);
    for (const w of waiters) w();
  }
}
