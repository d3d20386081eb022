// The bank's port for its ATMs: the same 2-byte framing and the same codec as the switch link, carrying the
// ATM ↔ bank message set of atm-protocol.ts. Each message is handed to the AtmGateway; answers go back as they come.
import net, { type AddressInfo } from 'node:net';
import { LIMITS } from '../../switch/config.ts';
import type { Logger } from '../../switch/log.ts';
import { CodecError, decode, describe, describeBytes, encode, frame, FrameDecoder, type IsoMessage } from '../../switch/iso8583/index.ts';
import { respond } from '../../switch/handlers/respond.ts';
import {
  answerOf,
  AtmProtocolError,
  atmAnswerMessage,
  parseAtmAdvice,
  parseAtmRequest,
  type AtmAnswer,
  type AtmBackend,
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

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const frames = new FrameDecoder(LIMITS.MAX_FRAME_BYTES);
    let inFlight = 0;
    const write = (msg: IsoMessage) => {
      if (!socket.destroyed) socket.write(frame(encode(msg)));
    };
    socket.on('data', (chunk) => {
      let bodies: Buffer[];
      try {
        bodies = frames.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const body of bodies) {
        if (inFlight >= this.options.max_in_flight_per_connection) {
          this.logger.warn('ATM exceeded its in-flight limit; message dropped', { body: describeBytes(body) });
          continue;
        }
        inFlight++;
        this.handle(body).then(
          (answer) => {
            inFlight--;
            if (answer) write(answer);
          },
          (e: Error) => {
            inFlight--;
            this.logger.error('ATM message failed', { error: e.message });
          },
        );
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
  }

  private async handle(body: Buffer): Promise<IsoMessage | null> {
    let msg: IsoMessage;
    try {
      msg = decode(body);
    } catch (e) {
      const ce = e as CodecError;
      if (ce instanceof CodecError && ce.mti && ce.partial) return atmAnswerMessage({ mti: ce.mti, fields: ce.partial }, answerOf('BAD_REQUEST'));
      this.logger.warn('undecodable ATM message dropped', { body: describeBytes(body) });
      return null;
    }
    try {
      switch (msg.mti) {
        case '0800':
          return respond(msg, 'APPROVED');
        case '0200':
          return atmAnswerMessage(msg, await this.backend.authorize(parseAtmRequest(msg)));
        case '0220':
        case '0221':
        case '0420':
        case '0421':
          return atmAnswerMessage(msg, await this.backend.report(parseAtmAdvice(msg)));
        default:
          return atmAnswerMessage(msg, answerOf('BAD_REQUEST'));
      }
    } catch (e) {
      if (e instanceof AtmProtocolError) {
        this.logger.warn('bad ATM message', { error: e.message, msg: describe(msg) });
        return atmAnswerMessage(msg, answerOf('BAD_REQUEST'));
      }
      throw e;
    }
  }
}

export type { AtmAnswer };
