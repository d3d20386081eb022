// A partner bank host facing the switch (partner-interface.md): one or more connections that sign on, echo and
// reconnect with bounded exponential backoff; 0200s out with a timeout that reverses (0420, 39=68); 0220/0420
// advices through the durable store-and-forward queue; sign-off on close. Everything a certification runner or a
// demo needs is a method here; the CLI (main.ts) only parses flags.
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../../switch/clock.ts';
import { createLogger, type Logger } from '../../switch/log.ts';
import { buildTlv, describe, type FieldValues, type IsoMessage } from '../../switch/iso8583/index.ts';
import {
  amountField,
  amountTwd,
  localTimeDate,
  originalData,
  replacementAmounts,
  requestKey,
  responseKey,
  retrievalReference,
  terminalIdField,
  transmissionDateTime,
} from './fields.ts';
import { BusyError, LinkDownError, RequestTimeoutError, SwitchConnection, type ConnectionOptions } from './connection.ts';
import { AdviceForwarder, NotSentError } from './forwarder.ts';
import { QueueFullError, SafQueue, type SafEntry } from './saf-queue.ts';
import { StanGenerator } from './stan.ts';
import { PROCESSING_CODE, type DispenseOutcome, type Processing } from './atm-protocol.ts';

export interface BankHostOptions {
  switchHost: string;
  switchPort: number;
  bankCode: string;
  macKey?: Buffer | null;
  /** Store-and-forward queue file; survives restarts. */
  queueFile: string;
  connections?: number;
  /** A 0200's wait for its 0210; past it the withdrawal is reversed (68). */
  request_timeout_ms?: number;
  /** An advice's wait for its 0230/0430; past it the advice is repeated later. */
  advice_timeout_ms?: number;
  /** TCP connect, and the sign-on answer. */
  connect_timeout_ms?: number;
  echo_interval_ms?: number;
  max_missed_echoes?: number;
  repeat_interval_ms?: number;
  max_repeats?: number;
  max_in_flight_per_connection?: number;
  max_advices_in_flight?: number;
  max_queue_entries?: number;
  reconnect_base_delay_ms?: number;
  reconnect_max_delay_ms?: number;
  /** Consecutive failed attempts after which a connection slot gives up. */
  reconnect_max_attempts?: number;
  /** Late responses to reversed requests remembered (to say "late, nothing paid" rather than "unknown"). */
  max_remembered_reversals?: number;
  sign_on?: boolean;
  /** DE33, when the bank forwards for another institution. */
  forwardingInstitution?: string;
  clock?: Clock;
  logger?: Logger;
}

export const BANK_HOST_DEFAULTS = {
  connections: 1,
  request_timeout_ms: 15_000,
  advice_timeout_ms: 15_000,
  connect_timeout_ms: 5_000,
  echo_interval_ms: 60_000,
  max_missed_echoes: 3,
  repeat_interval_ms: 5_000,
  max_repeats: 20,
  max_in_flight_per_connection: 64,
  max_advices_in_flight: 16,
  max_queue_entries: 100_000,
  reconnect_base_delay_ms: 250,
  reconnect_max_delay_ms: 30_000,
  reconnect_max_attempts: 1_000,
  max_remembered_reversals: 10_000,
  sign_on: true,
} as const;

export const MAX_CONNECTIONS_PER_BANK = 32;

export interface FinancialRequest {
  processing: Processing;
  amountTwd: number;
  nhi: string;
  claimantId: string;
  campaign?: string;
  terminalId: string;
  /** The ATM's local time and date (DE12/DE13); the clock's Taipei time when absent. */
  localTime?: string;
  localDate?: string;
  /** DE43, up to 40 characters. */
  location?: string;
}

export type AuthorizationState = 'unsent' | 'approved' | 'declined' | 'reversed' | 'confirmed';

export interface Authorization {
  request: IsoMessage | null;
  response: IsoMessage | null;
  rc: string;
  reason: string | null;
  approvalCode: string | null;
  remainingTwd: number | null;
  state: AuthorizationState;
}

export interface HostStatus {
  bankCode: string;
  links: { total: number; signedOn: number };
  inFlight: number;
  queue: { depth: number; attention: number };
  counts: HostCounts;
}

export interface HostCounts {
  requests: number;
  approved: number;
  declined: number;
  timedOut: number;
  lateResponses: number;
  advicesQueued: number;
  advicesAcked: number;
}

interface Slot {
  index: number;
  conn: SwitchConnection | null;
  failures: number;
  timer: NodeJS.Timeout | null;
  gaveUp: boolean;
}

export class BankHost extends EventEmitter {
  readonly bankCode: string;
  readonly queue: SafQueue;
  readonly forwarder: AdviceForwarder;
  readonly counts: HostCounts = { requests: 0, approved: 0, declined: 0, timedOut: 0, lateResponses: 0, advicesQueued: 0, advicesAcked: 0 };
  private readonly o: Required<Omit<BankHostOptions, 'forwardingInstitution' | 'macKey' | 'clock' | 'logger'>>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly macKey: Buffer | null;
  private readonly forwardingInstitution: string | null;
  private readonly stan = new StanGenerator();
  private readonly slots: Slot[] = [];
  private readonly reversedKeys = new Map<string, true>();
  private nextSlot = 0;
  private financialInFlight = 0;
  private closing = false;

  private constructor(options: BankHostOptions, queue: SafQueue) {
    super();
    this.o = { ...BANK_HOST_DEFAULTS, ...stripUndefined(options) } as BankHost['o'];
    this.bankCode = options.bankCode;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? createLogger({ component: 'sim-bank', bank: options.bankCode });
    this.macKey = options.macKey ?? null;
    this.forwardingInstitution = options.forwardingInstitution ?? null;
    this.queue = queue;
    this.forwarder = new AdviceForwarder(
      queue,
      (msg) => this.sendAdvice(msg),
      { repeat_interval_ms: this.o.repeat_interval_ms, max_repeats: this.o.max_repeats, max_in_flight: this.o.max_advices_in_flight },
      this.logger,
    );
    for (let i = 0; i < this.o.connections; i++) this.slots.push({ index: i, conn: null, failures: 0, timer: null, gaveUp: false });
  }

  /** Opens the queue file; connect with start(). */
  static async open(options: BankHostOptions): Promise<BankHost> {
    if (!/^\d{1,11}$/.test(options.bankCode)) throw new Error(`bank code must be 1 to 11 digits, got "${options.bankCode}"`);
    const n = options.connections ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > MAX_CONNECTIONS_PER_BANK) throw new Error(`connections must be 1 to ${MAX_CONNECTIONS_PER_BANK}`);
    if (options.macKey && options.macKey.length !== 16) throw new Error('MAC key must be 16 bytes (AES-128)');
    const queue = await SafQueue.open(options.queueFile, options.max_queue_entries ?? BANK_HOST_DEFAULTS.max_queue_entries);
    return new BankHost(options, queue);
  }

  /** Connects every slot; resolves after each has made its first attempt, with how many signed on. Failed slots keep retrying. */
  async start(): Promise<number> {
    this.forwarder.start();
    await Promise.all(this.slots.map((s) => this.connectSlot(s)));
    return this.signedOnCount();
  }

  /** Resolves once at least one connection is signed on; rejects after timeout_ms. */
  async ready(timeout_ms: number): Promise<void> {
    const until = Date.now() + timeout_ms;
    while (this.signedOnCount() === 0) {
      if (Date.now() >= until) throw new LinkDownError(`no connection to the switch signed on within ${timeout_ms} ms`);
      await sleep(10);
    }
  }

  /** True once every connection slot has given up reconnecting: the host can no longer reach the switch. */
  allGaveUp(): boolean {
    return this.slots.every((s) => s.gaveUp);
  }

  signedOnCount(): number {
    return this.slots.filter((s) => s.conn?.signedOn).length;
  }

  /** The live connections (for a certification runner that sends raw or unusual messages). */
  connections(): SwitchConnection[] {
    return this.slots.flatMap((s) => (s.conn && s.conn.state !== 'closed' ? [s.conn] : []));
  }

  nextStan(): string {
    return this.stan.next();
  }

  // ——— financial requests ———

  /** Builds the 0200 for a request: DE32 the bank, DE37 a fresh RRN, DE48 NH + ID (+ CP). No PIN, no card. */
  buildRequest(r: FinancialRequest): IsoMessage {
    const now = this.clock.now();
    const stan = this.stan.next();
    const local = localTimeDate(now);
    const fields: FieldValues = {
      3: PROCESSING_CODE[r.processing],
      4: amountField(r.amountTwd),
      7: transmissionDateTime(now),
      11: stan,
      12: r.localTime ?? local.time,
      13: r.localDate ?? local.date,
      18: '6011',
      25: '02',
      32: this.bankCode,
      37: retrievalReference(now, stan),
      41: terminalIdField(r.terminalId),
      48: buildTlv([['NH', r.nhi], ['ID', r.claimantId], ...(r.campaign ? [['CP', r.campaign] as [string, string]] : [])]),
      49: '901',
    };
    if (this.forwardingInstitution) fields[33] = this.forwardingInstitution;
    if (r.location) fields[43] = r.location.slice(0, 40).padEnd(40, ' ');
    return { mti: '0200', fields };
  }

  /**
   * Sends a 0200 and waits up to request_timeout_ms. A withdrawal without an answer in time (or whose connection
   * dropped) is reversed at once — 0420, 39=68 — and answered 68; its late 0210, if any, pays nothing.
   */
  async authorize(r: FinancialRequest): Promise<Authorization> {
    if (this.closing) return unsent('91', 'LINK_DOWN');
    if (r.processing === 'withdrawal' && !this.queue.hasRoom()) return unsent('91', 'BANK_BUSY');
    const conn = this.pick();
    if (!conn) return unsent('91', 'LINK_DOWN');
    const request = this.buildRequest(r);
    this.counts.requests++;
    this.financialInFlight++;
    try {
      const response = await conn.request(request, this.o.request_timeout_ms);
      const rc = response.fields[39] ?? '96';
      const approved = rc === '00';
      if (approved) this.counts.approved++;
      else this.counts.declined++;
      const de54 = response.fields[54];
      return {
        request,
        response,
        rc,
        reason: response.fields[44] ?? null,
        approvalCode: response.fields[38] ?? null,
        remainingTwd: de54 && de54.length >= 20 ? amountTwd(de54.slice(-12)) : null,
        state: approved && r.processing === 'withdrawal' ? 'approved' : 'declined',
      };
    } catch (e) {
      if (e instanceof BusyError) return unsent('91', 'BANK_BUSY');
      if (!(e instanceof RequestTimeoutError || e instanceof LinkDownError)) throw e;
      this.counts.timedOut++;
      this.logger.warn('no answer to a 0200; reversing', { stan: request.fields[11], error: e.message });
      const withdrawal = r.processing === 'withdrawal';
      const auth: Authorization = {
        request,
        response: null,
        rc: '68',
        reason: 'HOST_TIMEOUT',
        approvalCode: null,
        remainingTwd: null,
        state: withdrawal ? 'reversed' : 'declined',
      };
      if (withdrawal) {
        this.rememberReversed(requestKey(request));
        try {
          await this.enqueueAdvice(this.reversal(request, { kind: 'none', reason: '68' }));
        } catch (q) {
          // Only a full disk or queue gets here: the reservation then lapses into PAID at the switch. Say so loudly.
          this.logger.error('could not queue the reversal of a timed-out 0200', { stan: request.fields[11], error: (q as Error).message });
        }
      }
      return auth;
    } finally {
      this.financialInFlight--;
    }
  }

  /**
   * After the ATM reports what it dispensed for an approved withdrawal: full → 0220; none → 0420 (17/22/68);
   * partial → 0420 with 39=32 and DE95. Resolves once the advice is stored durably; false when there is nothing
   * to confirm (not approved, or already confirmed/reversed).
   */
  async confirm(auth: Authorization, outcome: DispenseOutcome): Promise<SafEntry | false> {
    if (auth.state !== 'approved' || !auth.request) return false;
    const amount = amountTwd(auth.request.fields[4]);
    let o = outcome;
    if (o.kind === 'partial' && o.dispensedTwd >= amount) o = { kind: 'full' };
    if (o.kind === 'partial' && o.dispensedTwd <= 0) o = { kind: 'none', reason: '22' };
    const advice = o.kind === 'full' ? this.completion(auth.request) : this.reversal(auth.request, o);
    const entry = await this.enqueueAdvice(advice);
    auth.state = o.kind === 'full' ? 'confirmed' : 'reversed';
    return entry;
  }

  /** 0220: the 0200's 3, 4, 12, 13, 32, (33), 37, 41, 49, a new 7 and 11, and DE90 pointing at it. */
  completion(original: IsoMessage): IsoMessage {
    return { mti: '0220', fields: this.adviceFields(original) };
  }

  /** 0420: as a 0220, plus 39 (the reason) and, for a partial dispense, DE95. */
  reversal(original: IsoMessage, outcome: Exclude<DispenseOutcome, { kind: 'full' }>): IsoMessage {
    const fields = this.adviceFields(original);
    if (outcome.kind === 'partial') {
      fields[39] = '32';
      fields[95] = replacementAmounts(outcome.dispensedTwd);
    } else fields[39] = outcome.reason;
    return { mti: '0420', fields };
  }

  private adviceFields(original: IsoMessage): FieldValues {
    const now = this.clock.now();
    const f = original.fields;
    const fields: FieldValues = {};
    for (const n of [3, 4, 12, 13, 32, 33, 37, 41, 49] as const) if (f[n] !== undefined) fields[n] = f[n];
    fields[7] = transmissionDateTime(now);
    fields[11] = this.stan.next();
    fields[90] = originalData(original);
    return fields;
  }

  /** Stores an advice durably and lets the forwarder send it. Throws QueueFullError when the queue is full. */
  async enqueueAdvice(msg: IsoMessage): Promise<SafEntry> {
    const entry = await this.queue.enqueue(msg, this.clock.now());
    this.counts.advicesQueued++;
    this.forwarder.kick();
    return entry;
  }

  queueDepth(): number {
    return this.queue.depth();
  }

  /** Waits until every queued advice is acknowledged; false after timeout_ms or when only flagged ones remain. */
  drainQueue(timeout_ms: number): Promise<boolean> {
    return this.forwarder.drained(timeout_ms);
  }

  status(): HostStatus {
    this.counts.advicesAcked = this.forwarder.acked;
    return {
      bankCode: this.bankCode,
      links: { total: this.slots.length, signedOn: this.signedOnCount() },
      inFlight: this.financialInFlight,
      queue: { depth: this.queue.depth(), attention: this.queue.attentionCount() },
      counts: { ...this.counts },
    };
  }

  statusLine(): string {
    const s = this.status();
    const c = s.counts;
    return (
      `bank ${s.bankCode} | links ${s.links.signedOn}/${s.links.total} signed on | in flight ${s.inFlight} | ` +
      `queue ${s.queue.depth}${s.queue.attention ? ` (${s.queue.attention} need attention)` : ''} | ` +
      `approved ${c.approved} declined ${c.declined} timed out ${c.timedOut} late ${c.lateResponses} | advices acked ${c.advicesAcked}/${c.advicesQueued}`
    );
  }

  /**
   * Drains and leaves: no new requests, waits up to drain_ms for answers in flight and for the queue to empty,
   * signs off every signed-on connection (0800/002), closes. What is still queued stays in the file for next time.
   */
  async close(drain_ms = 5_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const s of this.slots) if (s.timer) clearTimeout(s.timer);
    const until = Date.now() + drain_ms;
    while (this.financialInFlight > 0 && Date.now() < until) await sleep(10);
    if (this.queue.depth() > 0 && this.signedOnCount() > 0) await this.forwarder.drained(Math.max(0, until - Date.now()));
    this.forwarder.stop();
    await Promise.all(
      this.slots.map(async (s) => {
        const conn = s.conn;
        if (!conn) return;
        if (conn.signedOn) {
          try {
            await conn.signOff(Math.min(this.o.request_timeout_ms, 2_000));
          } catch (e) {
            this.logger.warn('sign-off not answered', { error: (e as Error).message });
          }
        }
        conn.close('bank shutting down');
      }),
    );
    await this.queue.close();
  }

  // ——— connections ———

  private pick(): SwitchConnection | null {
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[(this.nextSlot + i) % this.slots.length]!;
      if (s.conn?.signedOn && s.conn.inFlight < this.o.max_in_flight_per_connection) {
        this.nextSlot = (s.index + 1) % this.slots.length;
        return s.conn;
      }
    }
    return null;
  }

  private async sendAdvice(msg: IsoMessage): Promise<IsoMessage> {
    const conn = this.pick();
    if (!conn) throw new NotSentError('no signed-on connection to the switch');
    return conn.request(msg, this.o.advice_timeout_ms);
  }

  private connectionOptions(): ConnectionOptions {
    return {
      host: this.o.switchHost,
      port: this.o.switchPort,
      bankCode: this.bankCode,
      macKey: this.macKey,
      stan: this.stan,
      clock: this.clock,
      logger: this.logger,
      request_timeout_ms: this.o.request_timeout_ms,
      connect_timeout_ms: this.o.connect_timeout_ms,
      echo_interval_ms: this.o.echo_interval_ms,
      max_missed_echoes: this.o.max_missed_echoes,
      max_in_flight: this.o.max_in_flight_per_connection,
      sign_on: this.o.sign_on,
    };
  }

  private async connectSlot(slot: Slot): Promise<void> {
    if (this.closing) return;
    const conn = new SwitchConnection(this.connectionOptions());
    slot.conn = conn;
    conn.on('traffic', (dir: 'in' | 'out', msg: IsoMessage) => this.emit('traffic', { connection: slot.index, dir, msg }));
    conn.on('unmatched', (msg: IsoMessage) => this.onUnmatched(msg));
    conn.on('mac-error', (result: string, msg: IsoMessage) => this.emit('mac-error', { connection: slot.index, result, msg }));
    conn.on('request', (msg: IsoMessage) => this.emit('request', { connection: slot.index, msg }));
    try {
      await conn.connect();
      slot.failures = 0;
      this.logger.info('signed on', { connection: slot.index });
      this.emit('link', { connection: slot.index, state: conn.state });
      conn.once('close', (reason: string) => {
        this.emit('link', { connection: slot.index, state: 'closed', reason });
        if (!this.closing) {
          this.logger.warn('connection lost; reconnecting', { connection: slot.index, reason });
          this.scheduleReconnect(slot);
        }
      });
      this.forwarder.kick();
    } catch (e) {
      this.logger.warn('could not connect', { connection: slot.index, error: (e as Error).message });
      this.scheduleReconnect(slot);
    }
  }

  /** Exponential backoff from reconnect_base_delay_ms, capped at reconnect_max_delay_ms, for at most reconnect_max_attempts. */
  private scheduleReconnect(slot: Slot): void {
    if (this.closing) return;
    slot.failures++;
    if (slot.failures > this.o.reconnect_max_attempts) {
      slot.gaveUp = true;
      this.logger.error('giving up on this connection', { connection: slot.index, attempts: this.o.reconnect_max_attempts });
      this.emit('gave-up', { connection: slot.index });
      return;
    }
    const delay_ms = reconnectDelay(slot.failures, this.o.reconnect_base_delay_ms, this.o.reconnect_max_delay_ms);
    slot.timer = setTimeout(() => {
      slot.timer = null;
      void this.connectSlot(slot);
    }, delay_ms);
  }

  private rememberReversed(key: string): void {
    this.reversedKeys.set(key, true);
    if (this.reversedKeys.size > this.o.max_remembered_reversals) {
      this.reversedKeys.delete(this.reversedKeys.keys().next().value!);
    }
  }

  private onUnmatched(msg: IsoMessage): void {
    const key = responseKey(msg);
    if (msg.mti === '0210' && this.reversedKeys.has(key)) {
      this.counts.lateResponses++;
      this.logger.warn('late 0210 for a reversed request: nothing is paid', { msg: describe(msg) });
      this.emit('late-response', msg);
      return;
    }
    this.logger.warn('response matches no request in flight', { msg: describe(msg) });
  }
}

/** attempt 1 → base, 2 → 2×base, … capped at max. */
export function reconnectDelay(attempt: number, base_ms: number, max_ms: number): number {
  return Math.min(max_ms, base_ms * 2 ** Math.min(30, attempt - 1));
}

function unsent(rc: string, reason: string): Authorization {
  return { request: null, response: null, rc, reason, approvalCode: null, remainingTwd: null, state: 'unsent' };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export { QueueFullError, LinkDownError };
