// The ISO 8583 listener: accepts partner hosts up to a limit, one Session each, and drains on shutdown.
import net, { type AddressInfo } from 'node:net';
import tls, { TLSSocket } from 'node:tls';
import { LIMITS } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Bank } from '../banks.ts';
import { systemClock, type Clock } from '../clock.ts';
import { Latencies } from './latency.ts';
import { DEFAULT_LINK_OPTIONS, Session, type LinkOptions, type RequestHandler } from './session.ts';

export interface LinkServerDeps {
  findBank(code: string): Promise<Bank | null>;
  handlers: Partial<Record<string, RequestHandler>>;
  logger: Logger;
  clock?: Clock;
  options?: Partial<LinkOptions>;
  maxConnections?: number;
  /** partner-interface §8: TLS with a client certificate per bank (absent: plain TCP, for development). */
  tls?: LinkTls;
}

export interface LinkTls {
  cert: Buffer;
  key: Buffer;
  /** The CA that issues the banks' client certificates; nothing else is accepted. */
  clientCa: Buffer;
}

/** TLS handshakes that have not finished within this are dropped. */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

export class LinkServer {
  readonly sessions = new Set<Session>();
  /** Time from taking a financial request up to its answer, per MTI, since the listener started (ops API). */
  readonly latencies = new Latencies();
  private readonly server: net.Server;
  private stan = 0;
  private readonly options: LinkOptions;
  private recheck: NodeJS.Timeout | null = null;

  constructor(private readonly deps: LinkServerDeps) {
    this.options = { ...DEFAULT_LINK_OPTIONS, ...deps.options };
    this.server = deps.tls
      ? tls.createServer(
          {
            cert: deps.tls.cert,
            key: deps.tls.key,
            ca: deps.tls.clientCa,
            requestCert: true,
            rejectUnauthorized: true,
            minVersion: 'TLSv1.2',
            handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
          },
          (socket) => this.accept(socket),
        )
      : net.createServer((socket) => this.accept(socket));
    this.server.on('tlsClientError', (e) => deps.logger.warn('TLS handshake refused', { error: e.message }));
    this.server.maxConnections = deps.maxConnections ?? LIMITS.MAX_CONNECTIONS;
    this.server.on('drop', () => deps.logger.warn('connection refused: at the connection limit'));
  }

  /** Replaces the financial handlers (the ledger is wired after the listener in tests that need both). */
  setHandlers(handlers: Partial<Record<string, RequestHandler>>): void {
    this.deps.handlers = handlers;
  }

  listen(port: number, host = '0.0.0.0'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        // One check at a time: a database that hangs does not pile them up.
        let running: Promise<void> | null = null;
        this.recheck = setInterval(() => {
          running ??= this.recheckBanks().finally(() => (running = null));
        }, LIMITS.BANK_RECHECK_INTERVAL_MS);
        this.recheck.unref();
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  private accept(socket: net.Socket): void {
    const session = new Session(socket, {
      findBank: this.bankFinderFor(socket),
      handlerFor: (mti) => this.deps.handlers[mti],
      clock: this.deps.clock ?? systemClock,
      nextStan: () => String((this.stan = (this.stan % 999_999) + 1)).padStart(6, '0'),
      logger: this.deps.logger,
      options: this.options,
      latencies: this.latencies,
    });
    this.sessions.add(session);
    socket.on('close', () => this.sessions.delete(session));
  }

  /**
   * Over TLS a connection speaks only for the bank its certificate names (subject CN = bank code): any other DE32 is
   * not a participating bank on this connection, so its sign-on gets 58 and nothing it sends is taken as that bank's.
   */
  private bankFinderFor(socket: net.Socket): (code: string) => Promise<Bank | null> {
    if (!(socket instanceof TLSSocket)) return this.deps.findBank;
    const cn = socket.getPeerCertificate().subject?.CN;
    const certified = typeof cn === 'string' ? cn : null;
    return (code) => (code === certified ? this.deps.findBank(code) : Promise.resolve(null));
  }

  /**
   * Re-reads the bank of every signed-on connection. A bank removed (made inactive) meanwhile is signed off, so its
   * financial traffic gets 91 from then on and a new sign-on gets 58; a bank whose MAC key changed is held with the
   * new key. If the banks cannot be read, every connection keeps what it has: a database hiccup signs nobody off.
   */
  async recheckBanks(): Promise<void> {
    const signedOn = [...this.sessions].filter((s) => s.bank !== null);
    const now = new Map<string, Bank | null>();
    try {
      for (const code of new Set(signedOn.map((s) => s.bank!.code))) now.set(code, await this.deps.findBank(code));
    } catch (e) {
      this.deps.logger.warn('banks not re-read (connections keep their sign-on)', { error: (e as Error).message });
      return;
    }
    for (const s of signedOn) {
      const held = s.bank;
      if (held === null || !now.has(held.code)) continue; // signed off or on meanwhile
      const bank = now.get(held.code)!;
      if (bank === null) {
        this.deps.logger.warn('bank no longer participating: its connection is signed off', { bank: held.code, conn: s.id });
        s.signOff();
      } else if (!sameKey(bank.macKey, held.macKey)) {
        this.deps.logger.info('bank MAC key changed: the connection uses the new one', { bank: held.code, conn: s.id });
        s.bank = bank;
      }
    }
  }

  /** Stops accepting, lets what is in flight finish within drain_ms, then closes every connection. */
  async close(drainMs: number = LIMITS.SHUTDOWN_DRAIN_MS): Promise<void> {
    if (this.recheck) clearInterval(this.recheck);
    this.recheck = null;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const drained = Promise.all([...this.sessions].map((s) => s.idle()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise<void>((r) => (timer = setTimeout(r, drainMs)))]);
    clearTimeout(timer);
    for (const s of this.sessions) s.close('shutdown');
    await closed;
  }
}

function sameKey(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : a.equals(b);
}
