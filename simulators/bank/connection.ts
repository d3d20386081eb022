// One TCP connection from a bank host to the switch (partner-interface.md §2, §4, §8): framing, the codec, the MAC,
// sign-on and sign-off, echoes both ways, and request/response matching by DE11 + DE7 + DE41 + DE32 so that
// pipelined requests may be answered in any order. Reconnecting is the BankHost's job; this class lives once.
//
// Events (for a certification runner or a demo that wants to watch the wire):
//   'traffic' (dir: 'out' | 'in', msg: IsoMessage)   every message sent or received and decoded
//   'unmatched' (msg)                                  a response nobody waits for (e.g. a late 0210)
//   'mac-error' (result: 'missing' | 'wrong', msg)     a message from the switch whose MAC did not verify (dropped)
//   'request' (msg)                                    a request from the switch other than an echo
//   'close' (reason: string)                           the socket is gone; every waiting request was rejected
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { LIMITS } from '../../switch/config.ts';
import type { Clock } from '../../switch/clock.ts';
import type { Logger } from '../../switch/log.ts';
import { respond } from '../../switch/handlers/respond.ts';
import {
  decode,
  describe,
  describeBytes,
  encode,
  frame,
  FrameDecoder,
  signMessage,
  verifyMac,
  type IsoMessage,
} from '../../switch/iso8583/index.ts';
import { isResponse, requestKey, responseKey, transmissionDateTime } from './fields.ts';
import type { StanGenerator } from './stan.ts';

export const NETWORK_CODE = { SIGN_ON: '001', SIGN_OFF: '002', ECHO: '301' } as const;

export interface ConnectionOptions {
  host: string;
  port: number;
  bankCode: string;
  /** AES-128: every message out is signed, every message in must verify. */
  macKey: Buffer | null;
  stan: StanGenerator;
  clock: Clock;
  logger: Logger;
  request_timeout_ms: number;
  connect_timeout_ms: number;
  /** Send an echo when nothing arrived for this long; 0 disables. */
  echo_interval_ms: number;
  /** Echoes left unanswered in a row before the connection is dropped (and the host reconnects). */
  max_missed_echoes: number;
  max_in_flight: number;
  /** Sign on as soon as the socket is up (false: a certification runner that wants to test "not signed on"). */
  sign_on: boolean;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'signed_on' | 'closed';

export class LinkDownError extends Error {
  override readonly name = 'LinkDownError';
}
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
}
export class BusyError extends Error {
  override readonly name = 'BusyError';
}
export class SignOnRefusedError extends Error {
  override readonly name = 'SignOnRefusedError';
}

interface Waiter {
  resolve(msg: IsoMessage): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class SwitchConnection extends EventEmitter {
  state: ConnectionState = 'idle';
  macErrors = 0;
  decodeErrors = 0;
  unmatched = 0;
  private socket: net.Socket | null = null;
  private readonly waiting = new Map<string, Waiter>();
  private readonly frames = new FrameDecoder(LIMITS.MAX_FRAME_BYTES);
  private lastReceivedMs = 0;
  private missedEchoes = 0;
  private echoTimer: NodeJS.Timeout | null = null;
  private echoOutstanding = false;

  constructor(readonly options: ConnectionOptions) {
    super();
  }

  get inFlight(): number {
    return this.waiting.size;
  }

  get signedOn(): boolean {
    return this.state === 'signed_on';
  }

  /** Resolves once connected (and signed on, when options.sign_on); rejects, with the socket closed, otherwise. */
  async connect(): Promise<void> {
    if (this.state !== 'idle') throw new Error(`connect() on a connection that is ${this.state}`);
    this.state = 'connecting';
    const { host, port, connect_timeout_ms } = this.options;
    await new Promise<void>((resolve, reject) => {
      const socket = net.createConnection({ host, port });
      this.socket = socket;
      socket.setNoDelay(true);
      const timer = setTimeout(() => socket.destroy(new Error(`no TCP connection within ${connect_timeout_ms} ms`)), connect_timeout_ms);
      socket.once('connect', () => {
        clearTimeout(timer);
        this.state = 'connected';
        this.lastReceivedMs = Date.now();
        resolve();
      });
      socket.on('data', (chunk) => this.onData(chunk));
      socket.on('error', (e) => {
        clearTimeout(timer);
        if (this.state === 'connecting') reject(new LinkDownError(`cannot connect to ${host}:${port}: ${e.message}`));
      });
      socket.on('close', () => {
        clearTimeout(timer);
        if (this.state === 'connecting') reject(new LinkDownError(`cannot connect to ${host}:${port}: closed`));
        this.closed('socket closed');
      });
    });
    this.startEchoTimer();
    if (this.options.sign_on) {
      try {
        await this.signOn();
      } catch (e) {
        this.close();
        throw e;
      }
    }
  }

  /** 0800 DE70 001 with DE32: the connection may carry financial traffic once the switch says 00. */
  async signOn(): Promise<IsoMessage> {
    const timeout_ms = Math.max(this.options.request_timeout_ms, this.options.connect_timeout_ms);
    const res = await this.request(this.networkMessage(NETWORK_CODE.SIGN_ON), timeout_ms);
    if (res.fields[39] !== '00') throw new SignOnRefusedError(`sign-on refused by the switch: 39=${res.fields[39] ?? 'none'}`);
    if (this.state === 'connected') this.state = 'signed_on';
    return res;
  }

  /** 0800 DE70 002: after it, the switch refuses financial traffic on this connection. */
  async signOff(timeout_ms = this.options.request_timeout_ms): Promise<IsoMessage> {
    const res = await this.request(this.networkMessage(NETWORK_CODE.SIGN_OFF), timeout_ms);
    if (this.state === 'signed_on') this.state = 'connected';
    return res;
  }

  echo(timeout_ms = this.options.request_timeout_ms): Promise<IsoMessage> {
    return this.request(this.networkMessage(NETWORK_CODE.ECHO), timeout_ms);
  }

  networkMessage(code: string): IsoMessage {
    const fields: IsoMessage['fields'] = { 7: transmissionDateTime(this.options.clock.now()), 11: this.options.stan.next(), 70: code };
    if (code !== NETWORK_CODE.ECHO) fields[32] = this.options.bankCode;
    return { mti: '0800', fields };
  }

  /** Sends a request and waits for the response with the same MTI class, DE11, DE7, DE41 and DE32. */
  request(msg: IsoMessage, timeout_ms = this.options.request_timeout_ms): Promise<IsoMessage> {
    if (!this.socket || (this.state !== 'connected' && this.state !== 'signed_on')) {
      return Promise.reject(new LinkDownError('not connected to the switch'));
    }
    if (this.waiting.size >= this.options.max_in_flight) {
      return Promise.reject(new BusyError(`${this.options.max_in_flight} requests already in flight on this connection`));
    }
    const key = requestKey(msg);
    if (this.waiting.has(key)) return Promise.reject(new Error('a request with the same DE11/DE7/DE41/DE32 is already in flight'));
    return new Promise<IsoMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new RequestTimeoutError(`no ${msg.mti} response within ${timeout_ms} ms`));
      }, timeout_ms);
      this.waiting.set(key, { resolve, reject, timer });
      try {
        this.send(msg);
      } catch (e) {
        clearTimeout(timer);
        this.waiting.delete(key);
        reject(e as Error);
      }
    });
  }

  /** Encodes (and signs, with a MAC key) and writes one message; throws CodecError on a bad field. */
  send(msg: IsoMessage): void {
    const body = this.options.macKey ? signMessage(msg, this.options.macKey) : encode(msg);
    this.sendRaw(body);
    this.emit('traffic', 'out', msg);
  }

  /** Writes a body exactly as given (framed): for a certification runner that sends deliberately broken messages. */
  sendRaw(body: Buffer): void {
    this.sendUnframed(frame(body));
  }

  /** Writes bytes with no length prefix added: certification's broken and oversized frames. A real host never does. */
  sendUnframed(bytes: Buffer): void {
    const socket = this.socket;
    if (!socket || socket.destroyed) throw new LinkDownError('not connected to the switch');
    socket.write(bytes);
    if (socket.writableLength > LIMITS.MAX_WRITE_BUFFER_BYTES) socket.destroy(new Error('the switch is not reading: write buffer full'));
  }

  /** Drops the connection at once; waiting requests fail with LinkDownError. */
  close(reason = 'closed by the bank'): void {
    this.socket?.destroy();
    this.closed(reason);
  }

  private closed(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.echoTimer) clearInterval(this.echoTimer);
    this.echoTimer = null;
    for (const [key, w] of this.waiting) {
      clearTimeout(w.timer);
      this.waiting.delete(key);
      w.reject(new LinkDownError(`connection lost (${reason}) before the response`));
    }
    this.emit('close', reason);
  }

  private onData(chunk: Buffer): void {
    this.lastReceivedMs = Date.now();
    this.missedEchoes = 0;
    let bodies: Buffer[];
    try {
      bodies = this.frames.push(chunk);
    } catch (e) {
      this.options.logger.warn('switch sent an oversized frame; closing', { error: (e as Error).message });
      this.close('oversized frame from the switch');
      return;
    }
    for (const body of bodies) this.onBody(body);
  }

  private onBody(body: Buffer): void {
    const { macKey, logger } = this.options;
    let msg: IsoMessage;
    try {
      msg = decode(body);
    } catch (e) {
      this.decodeErrors++;
      logger.warn('undecodable message from the switch', { error: (e as Error).message, body: describeBytes(body) });
      return;
    }
    if (macKey) {
      const mac = verifyMac(body, macKey);
      if (mac !== 'ok') {
        this.macErrors++;
        logger.warn('message from the switch failed the MAC check; dropped', { mac, msg: describe(msg) });
        this.emit('mac-error', mac, msg);
        return;
      }
    }
    this.emit('traffic', 'in', msg);
    if (isResponse(msg.mti)) {
      const key = responseKey(msg);
      const w = this.waiting.get(key);
      if (!w) {
        this.unmatched++;
        this.emit('unmatched', msg);
        return;
      }
      this.waiting.delete(key);
      clearTimeout(w.timer);
      w.resolve(msg);
      return;
    }
    if (msg.mti === '0800' && msg.fields[70] === NETWORK_CODE.ECHO) {
      this.trySend(respond(msg, 'APPROVED'));
      return;
    }
    if (this.listenerCount('request') > 0) this.emit('request', msg);
    else logger.warn('unexpected request from the switch; ignored', { msg: describe(msg) });
  }

  private trySend(msg: IsoMessage): void {
    try {
      this.send(msg);
    } catch (e) {
      this.options.logger.warn('could not answer the switch', { error: (e as Error).message });
    }
  }

  /** An idle link is tested with an echo; a run of unanswered echoes drops it so the host reconnects. */
  private startEchoTimer(): void {
    const interval = this.options.echo_interval_ms;
    if (interval <= 0) return;
    this.echoTimer = setInterval(() => {
      if (this.echoOutstanding || Date.now() - this.lastReceivedMs < interval) return;
      this.echoOutstanding = true;
      this.echo().then(
        () => {
          this.echoOutstanding = false;
          this.missedEchoes = 0;
        },
        (e: Error) => {
          this.echoOutstanding = false;
          if (this.state === 'closed') return;
          this.missedEchoes++;
          this.options.logger.warn('echo unanswered', { missed: this.missedEchoes, error: e.message });
          if (this.missedEchoes >= this.options.max_missed_echoes) this.close('echoes unanswered');
        },
      );
    }, Math.max(10, Math.floor(interval / 2)));
    this.echoTimer.unref();
  }
}
