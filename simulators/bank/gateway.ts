// The bank between its ATMs and the switch: plays card issuer for its own cards (PIN and cardholder checked here,
// never forwarded), forwards the rest through the BankHost, and turns each ATM's dispense report into the advice
// the bank owes the switch. Used in process by a demo, and behind the ATM TCP port by AtmServer.
import type { Logger } from '../../switch/log.ts';
import { createLogger } from '../../switch/log.ts';
import { answerOf, type AtmAdvice, type AtmAnswer, type AtmBackend, type AtmRequest } from './atm-protocol.ts';
import type { CardFile } from './cards.ts';
import type { Authorization, BankHost } from './host.ts';
import { QueueFullError } from './saf-queue.ts';

export interface GatewayOptions {
  /** The issuer's cards; null: the terminals are the bank's own and no card is checked (driving the switch directly). */
  cards: CardFile | null;
  /** ATM transactions awaiting their dispense report. */
  max_open: number;
  /** After this long without a report an open transaction is forgotten (the switch's confirmation window settles it). */
  open_ttl_ms: number;
  logger?: Logger;
}

export const GATEWAY_DEFAULTS = { max_open: 10_000, open_ttl_ms: 15 * 60_000 } as const;

interface Open {
  auth: Authorization | null;
  /** The ATM gave up (its own timeout) before the answer came: reverse the withdrawal if it is approved. */
  abandoned: boolean;
  atMs: number;
}

export class AtmGateway implements AtmBackend {
  readonly counts = { wrongPin: 0, notCardholder: 0, unknownCard: 0, forwarded: 0, reports: 0 };
  private readonly open = new Map<string, Open>();
  private readonly options: GatewayOptions;
  private readonly logger: Logger;

  constructor(
    readonly host: BankHost,
    options: Partial<GatewayOptions> = {},
  ) {
    this.options = { cards: null, ...GATEWAY_DEFAULTS, ...options };
    this.logger = options.logger ?? createLogger({ component: 'sim-bank-atm', bank: host.bankCode });
  }

  async authorize(req: AtmRequest): Promise<AtmAnswer> {
    const cards = this.options.cards;
    if (cards) {
      if (req.card === undefined || req.pin === undefined) return answerOf('BAD_REQUEST');
      const decision = cards.verify(req.card, req.pin, req.claimantId);
      if (decision === 'unknown_card') {
        this.counts.unknownCard++;
        return answerOf('CARD_NOT_OURS');
      }
      if (decision === 'wrong_pin') {
        this.counts.wrongPin++;
        return answerOf('WRONG_PIN');
      }
      if (decision === 'not_holder') {
        this.counts.notCardholder++;
        return answerOf('NOT_CARDHOLDER');
      }
    }
    const key = openKey(req.terminalId, req.stan, req.transmission);
    if (this.open.has(key)) return answerOf('BAD_REQUEST');
    if (!this.makeRoom()) return answerOf('BANK_BUSY');
    const entry: Open = { auth: null, abandoned: false, atMs: Date.now() };
    this.open.set(key, entry);
    this.counts.forwarded++;
    let auth: Authorization;
    try {
      auth = await this.host.authorize({
        processing: req.processing,
        amountTwd: req.amountTwd,
        nhi: req.nhi,
        claimantId: req.claimantId,
        ...(req.campaign ? { campaign: req.campaign } : {}),
        terminalId: req.terminalId,
        localTime: req.localTime,
        localDate: req.localDate,
      });
    } catch (e) {
      this.open.delete(key);
      this.logger.error('could not forward a request', { error: (e as Error).message });
      return answerOf('BAD_REQUEST');
    }
    entry.auth = auth;
    if (auth.state !== 'approved') this.open.delete(key);
    else if (entry.abandoned) {
      await this.settle(key, auth, { kind: 'none', reason: '68' });
    }
    return { rc: auth.rc, reason: auth.reason, approvalCode: auth.approvalCode, remainingTwd: auth.remainingTwd };
  }

  /** The ATM's dispense report. 00 once the bank holds the advice it owes the switch; 91 if it cannot store it (the ATM repeats). */
  async report(advice: AtmAdvice): Promise<AtmAnswer> {
    this.counts.reports++;
    const key = openKey(advice.terminalId, advice.original.stan, advice.original.transmission);
    const entry = this.open.get(key);
    const ok: AtmAnswer = { rc: '00', reason: null, approvalCode: null, remainingTwd: null };
    // Unknown original (never forwarded, declined, or already settled): nothing is owed, and a repeat is answered alike.
    if (!entry) return ok;
    if (!entry.auth) {
      if (advice.outcome.kind !== 'full') entry.abandoned = true;
      return ok;
    }
    try {
      await this.settle(key, entry.auth, advice.outcome);
      return ok;
    } catch (e) {
      if (e instanceof QueueFullError) return answerOf('BANK_BUSY');
      throw e;
    }
  }

  pending(): number {
    return this.open.size;
  }

  private async settle(key: string, auth: Authorization, outcome: AtmAdvice['outcome']): Promise<void> {
    await this.host.confirm(auth, outcome);
    this.open.delete(key);
  }

  /** Forgets transactions older than open_ttl_ms; false when still full. */
  private makeRoom(): boolean {
    if (this.open.size < this.options.max_open) return true;
    const cutoff = Date.now() - this.options.open_ttl_ms;
    for (const [k, v] of this.open) if (v.atMs < cutoff && v.auth) this.open.delete(k);
    return this.open.size < this.options.max_open;
  }
}

function openKey(terminalId: string, stan: string, transmission: string): string {
  return `${terminalId.trimEnd()}|${stan}|${transmission}`;
}
