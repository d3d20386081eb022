// An ATM's line to its bank simulator: the ATM ↔ bank message set (simulators/bank/atm-protocol.ts) over one TCP
// connection with the project's framing and codec. Requests may be pipelined; answers are matched by DE41+DE11+DE7.
import net from 'node:net';
import { LIMITS } from '../../switch/config.ts';
import { decode, encode, frame, onFrames, type IsoMessage } from '../../switch/iso8583/index.ts';
import { requestKey, responseKey } from '../bank/fields.ts';
import {
  atmAdviceMessage,
  atmRequestMessage,
  parseAtmAnswer,
  type AtmAdvice,
  type AtmAnswer,
  type AtmBackend,
  type AtmRequest,
} from '../bank/atm-protocol.ts';

export class BankUnreachableError extends Error {
  override readonly name = 'BankUnreachableError';
}
export class BankTimeoutError extends Error {
  override readonly name = 'BankTimeoutError';
}

export interface BankClientOptions {
  host: string;
  port: number;
  response_timeout_ms: number;
  connect_timeout_ms: number;
  max_in_flight: number;
}

export const BANK_CLIENT_DEFAULTS = { response_timeout_ms: 30_000, connect_timeout_ms: 5_000, max_in_flight: 16 } as const;

export class BankClient implements AtmBackend {
  private socket: net.Socket | null = null;
  private connecting: Promise<net.Socket> | null = null;
  private readonly waiting = new Map<string, { resolve(m: IsoMessage): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  private readonly options: BankClientOptions;

  constructor(options: Partial<BankClientOptions> & { host: string; port: number }) {
    this.options = { ...BANK_CLIENT_DEFAULTS, ...options };
  }

  authorize(req: AtmRequest): Promise<AtmAnswer> {
    return this.exchange(atmRequestMessage(req)).then(parseAtmAnswer);
  }

  report(advice: AtmAdvice): Promise<AtmAnswer> {
    return this.exchange(atmAdviceMessage(advice)).then(parseAtmAnswer);
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private async exchange(msg: IsoMessage): Promise<IsoMessage> {
    const socket = await this.connect();
    if (this.waiting.size >= this.options.max_in_flight) throw new BankUnreachableError('too many requests in flight to the bank');
    const key = requestKey(msg);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new BankTimeoutError(`no answer from the bank within ${this.options.response_timeout_ms} ms`));
      }, this.options.response_timeout_ms);
      this.waiting.set(key, { resolve, reject, timer });
      socket.write(frame(encode(msg)));
    });
  }

  private connect(): Promise<net.Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    if (this.connecting) return this.connecting;
    this.connecting = new Promise<net.Socket>((resolve, reject) => {
      const { host, port, connect_timeout_ms } = this.options;
      const socket = net.createConnection({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), connect_timeout_ms);
      socket.once('connect', () => {
        clearTimeout(timer);
        this.socket = socket;
        this.connecting = null;
        resolve(socket);
      });
      onFrames(socket, LIMITS.MAX_FRAME_BYTES, (body) => {
        let m: IsoMessage;
        try {
          m = decode(body);
        } catch {
          return;
        }
        const w = this.waiting.get(responseKey(m));
        if (!w) return;
        this.waiting.delete(responseKey(m));
        clearTimeout(w.timer);
        w.resolve(m);
      });
      socket.on('error', (e) => {
        clearTimeout(timer);
        if (this.connecting) {
          this.connecting = null;
          reject(new BankUnreachableError(`cannot reach the bank at ${host}:${port}: ${e.message}`));
        }
      });
      socket.on('close', () => {
        if (this.socket === socket) this.socket = null;
        for (const [k, w] of this.waiting) {
          clearTimeout(w.timer);
          this.waiting.delete(k);
          w.reject(new BankUnreachableError('connection to the bank lost'));
        }
      });
    });
    return this.connecting;
  }
}
