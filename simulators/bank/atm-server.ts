// The bank's port for its ATMs: the same 2-byte framing and the same codec as the switch link, carrying the
// ATM ↔ bank message set of atm-protocol.ts. Each message is handed to the AtmGateway; answers go back as they come.
import net, { type AddressInfo } from 'node:net';
import { LIMITS } from '../../switch/config.ts';
import type { Logger } from '../../switch/log.ts';
import { CodecError, decode, describe, describeBytes, encode, frame, onFrames, type IsoMessage } from '../../switch/iso8583/index.ts';
import { respond } from '../../switch/handlers/respond.ts';
import {
  answerOf,
  AtmProtocolError,
  atmAnswerMessage,
  parseAtmAdvice,
  parseAtmRequest,
  type AtmAnswer,
  type AtmBackend,
  type AtmRequest,
} from './atm-protocol.ts';

export interface AtmServerOptions {
  max_connections: number;
  max_in_flight_per_connection: number;
}

export const ATM_SERVER_DEFAULTS: AtmServerOptions = { max_connections: 1_024, max_in_flight_per_connection: 16 };

export class AtmServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly options: AtmServerOptions;
  private inFlight = 0;
  private draining = false;

  constructor(
    private readonly backend: AtmBackend,
    private readonly logger: Logger,
    options: Partial<AtmServerOptions> = {},
  ) {
    this.options = { ...ATM_SERVER_DEFAULTS, ...options };
    this.server = net.createServer((s) => this.accept(s));
    this.server.maxConnections = this.options.max_connections;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * Stops taking new withdrawals (they get 91), lets answers in flight reach their ATMs and waits — up to drain_ms —
   * for the dispense reports of approved withdrawals; then closes every ATM connection.
   */
  async close(drain_ms = 0): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    const until = Date.now() + drain_ms;
    while ((this.inFlight > 0 || (this.backend.pending?.() ?? 0) > 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let inFlight = 0;
    onFrames(socket, LIMITS.MAX_FRAME_BYTES, (body) => {
      if (inFlight >= this.options.max_in_flight_per_connection) {
        this.logger.warn('ATM exceeded its in-flight limit; message dropped', { body: describeBytes(body) });
        return;
      }
      inFlight++;
      this.inFlight++;
      this.handle(body)
        .then((exchange) => (exchange ? this.answer(socket, exchange) : undefined))
        .catch((e: Error) => this.logger.error('ATM message failed', { error: e.message }))
        .finally(() => {
          inFlight--;
          this.inFlight--;
        });
    });
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
  }

  /**
   * Writes the answer. An approved withdrawal whose ATM is gone cannot be dispensed: the bank reverses it (68) at
   * once rather than let the switch's confirmation window turn it into a payment nobody received.
   */
  private async answer(socket: net.Socket, { request, answer }: { request: AtmRequest | null; answer: IsoMessage }): Promise<void> {
    if (!socket.destroyed && socket.writable) {
      socket.write(frame(encode(answer)));
      return;
    }
    if (request && request.processing === 'withdrawal' && answer.fields[39] === '00') {
      this.logger.warn('approval could not reach its ATM: reversing', { terminal: request.terminalId, stan: request.stan });
      await this.backend.report({
        terminalId: request.terminalId,
        stan: request.stan,
        transmission: request.transmission,
        original: { stan: request.stan, transmission: request.transmission },
        processing: request.processing,
        amountTwd: request.amountTwd,
        outcome: { kind: 'none', reason: '68' },
      });
    }
  }

  private async handle(body: Buffer): Promise<{ request: AtmRequest | null; answer: IsoMessage } | null> {
    let msg: IsoMessage;
    try {
      msg = decode(body);
    } catch (e) {
      const ce = e as CodecError;
      if (ce instanceof CodecError && ce.mti && ce.partial) {
        return { request: null, answer: atmAnswerMessage({ mti: ce.mti, fields: ce.partial }, answerOf('BAD_REQUEST')) };
      }
      this.logger.warn('undecodable ATM message dropped', { body: describeBytes(body) });
      return null;
    }
    try {
      switch (msg.mti) {
        case '0800':
          return { request: null, answer: respond(msg, 'APPROVED') };
        case '0200': {
          if (this.draining) return { request: null, answer: atmAnswerMessage(msg, answerOf('BANK_BUSY')) };
          const request = parseAtmRequest(msg);
          return { request, answer: atmAnswerMessage(msg, await this.backend.authorize(request)) };
        }
        case '0220':
        case '0221':
        case '0420':
        case '0421':
          return { request: null, answer: atmAnswerMessage(msg, await this.backend.report(parseAtmAdvice(msg))) };
        default:
          return { request: null, answer: atmAnswerMessage(msg, answerOf('BAD_REQUEST')) };
      }
    } catch (e) {
      if (e instanceof AtmProtocolError) {
        this.logger.warn('bad ATM message', { error: e.message, msg: describe(msg) });
        return { request: null, answer: atmAnswerMessage(msg, answerOf('BAD_REQUEST')) };
      }
      throw e;
    }
  }
}

export type { AtmAnswer };
