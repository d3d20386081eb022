// One ATM terminal: a citizen's session from card and PIN to cash (partner-interface.md §1). The terminal asks its
// backend (the bank simulator over TCP, or a bank host in process that drives the switch directly), shows a screen,
// "dispenses" as configured — full, none (malfunction), partial, customer cancel, host timeout — and reports what
// left the machine so the bank can confirm (0220) or reverse (0420) with the switch.
import { systemClock, type Clock } from '../../switch/clock.ts';
import { localTimeDate, transmissionDateTime } from '../bank/fields.ts';
import { StanGenerator } from '../bank/stan.ts';
import type { AtmAdvice, AtmAnswer, AtmBackend, AtmRequest, DispenseOutcome, Processing } from '../bank/atm-protocol.ts';
import { balanceScreen, DISPENSE_SCREENS, screenFor, type Screen } from './screens.ts';

export const OUTCOME_KINDS = ['full', 'none', 'partial', 'cancel', 'timeout'] as const;
export type OutcomeKind = (typeof OUTCOME_KINDS)[number];

export interface TerminalOptions {
  terminalId: string;
  backend: AtmBackend;
  clock?: Clock;
  /** The terminal's own wait for its bank; past it the session ends as a host timeout and is reversed. */
  response_timeout_ms?: number;
  /** A dispense report is retried this many times in all before the terminal gives up (the cash is out either way). */
  report_attempts?: number;
  report_retry_ms?: number;
}

export const TERMINAL_DEFAULTS = { response_timeout_ms: 35_000, report_attempts: 5, report_retry_ms: 200 } as const;

export interface Customer {
  /** The citizen's own bank card and PIN; absent when the terminal drives the switch directly (no issuer). */
  card?: string;
  pin?: string;
  nhi: string;
  claimantId: string;
  campaign?: string;
}

export interface WithdrawalPlan {
  amountTwd: number;
  /** What the machine does after an approval (or 'timeout': the terminal gives up before the answer). */
  outcome: OutcomeKind;
  /** For 'partial': how much left the machine (default: half, in hundreds). */
  partialTwd?: number;
}

export interface SessionResult {
  rc: string;
  reason: string | null;
  /** What happened at the machine: the planned outcome after an approval, 'declined' otherwise. */
  outcome: OutcomeKind | 'declined';
  dispensedTwd: number;
  /** From the request to its answer; null when there was none (timeout). */
  latencyMs: number | null;
  /** Inquiry: the amount still available. */
  remainingTwd: number | null;
  screen: Screen;
  /** Whether the bank took the dispense report (null: nothing to report). */
  reportAcknowledged: boolean | null;
}

export class AtmTerminal {
  readonly terminalId: string;
  private readonly stan = new StanGenerator();
  private readonly clock: Clock;
  private readonly o: Required<Omit<TerminalOptions, 'clock'>>;

  constructor(options: TerminalOptions) {
    this.o = { ...TERMINAL_DEFAULTS, ...options } as AtmTerminal['o'];
    this.terminalId = options.terminalId;
    this.clock = options.clock ?? systemClock;
  }

  async inquire(c: Customer): Promise<SessionResult> {
    const req = this.request(c, 'inquiry', 0);
    const started = performance.now();
    const answer = await this.ask(req);
    if (!answer) return this.timedOut(req);
    const latencyMs = performance.now() - started;
    const remaining = answer.rc === '00' ? answer.remainingTwd : null;
    return {
      rc: answer.rc,
      reason: answer.reason,
      outcome: 'declined',
      dispensedTwd: 0,
      latencyMs,
      remainingTwd: remaining,
      screen: remaining !== null ? balanceScreen(remaining) : screenFor(answer.rc, answer.reason),
      reportAcknowledged: null,
    };
  }

  async withdraw(c: Customer, plan: WithdrawalPlan): Promise<SessionResult> {
    const req = this.request(c, 'withdrawal', plan.amountTwd);
    if (plan.outcome === 'timeout') {
      // The host is "too slow": the terminal stops waiting at once. The answer, when it comes, is ignored.
      this.o.backend.authorize(req).catch(() => {});
      return this.timedOut(req);
    }
    const started = performance.now();
    const answer = await this.ask(req);
    if (!answer) return this.timedOut(req);
    const latencyMs = performance.now() - started;
    const base = { rc: answer.rc, reason: answer.reason, latencyMs, remainingTwd: null };
    if (answer.rc !== '00') {
      return { ...base, outcome: 'declined', dispensedTwd: 0, screen: screenFor(answer.rc, answer.reason), reportAcknowledged: null };
    }
    let dispensed: DispenseOutcome;
    let dispensedTwd: number;
    let screen: Screen;
    switch (plan.outcome) {
      case 'full':
        dispensed = { kind: 'full' };
        dispensedTwd = plan.amountTwd;
        screen = DISPENSE_SCREENS.full(dispensedTwd);
        break;
      case 'partial': {
        dispensedTwd = plan.partialTwd ?? Math.floor(plan.amountTwd / 200) * 100;
        if (dispensedTwd <= 0 || dispensedTwd >= plan.amountTwd) throw new RangeError('a partial dispense is more than 0 and less than the amount');
        dispensed = { kind: 'partial', dispensedTwd };
        screen = DISPENSE_SCREENS.partial(dispensedTwd, plan.amountTwd);
        break;
      }
      case 'none':
        dispensed = { kind: 'none', reason: '22' };
        dispensedTwd = 0;
        screen = DISPENSE_SCREENS.none();
        break;
      case 'cancel':
        dispensed = { kind: 'none', reason: '17' };
        dispensedTwd = 0;
        screen = DISPENSE_SCREENS.cancel();
        break;
    }
    const reportAcknowledged = await this.report(req, dispensed);
    return { ...base, outcome: plan.outcome, dispensedTwd, screen, reportAcknowledged };
  }

  private request(c: Customer, processing: Processing, amountTwd: number): AtmRequest {
    const now = this.clock.now();
    const local = localTimeDate(now);
    const req: AtmRequest = {
      terminalId: this.terminalId,
      stan: this.stan.next(),
      transmission: transmissionDateTime(now),
      localTime: local.time,
      localDate: local.date,
      processing,
      amountTwd,
      nhi: c.nhi,
      claimantId: c.claimantId,
    };
    if (c.card !== undefined) req.card = c.card;
    if (c.pin !== undefined) req.pin = c.pin;
    if (c.campaign) req.campaign = c.campaign;
    return req;
  }

  /** The answer, or null when none came within response_timeout_ms (or the bank could not be reached). */
  private async ask(req: AtmRequest): Promise<AtmAnswer | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((r) => {
      timer = setTimeout(() => r(null), this.o.response_timeout_ms);
    });
    try {
      return await Promise.race([this.o.backend.authorize(req), timeout]);
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** No answer: nothing is dispensed, and the terminal tells its bank to reverse whatever the switch may have done. */
  private async timedOut(req: AtmRequest): Promise<SessionResult> {
    const reportAcknowledged = req.processing === 'withdrawal' ? await this.report(req, { kind: 'none', reason: '68' }) : null;
    return {
      rc: '68',
      reason: 'HOST_TIMEOUT',
      outcome: 'timeout',
      dispensedTwd: 0,
      latencyMs: null,
      remainingTwd: null,
      screen: DISPENSE_SCREENS.timeout(),
      reportAcknowledged,
    };
  }

  private async report(req: AtmRequest, outcome: DispenseOutcome): Promise<boolean> {
    const now = this.clock.now();
    const advice: AtmAdvice = {
      terminalId: this.terminalId,
      stan: this.stan.next(),
      transmission: transmissionDateTime(now),
      original: { stan: req.stan, transmission: req.transmission },
      processing: req.processing,
      amountTwd: req.amountTwd,
      outcome,
    };
    for (let attempt = 1; attempt <= this.o.report_attempts; attempt++) {
      try {
        const a = await this.o.backend.report(advice);
        if (a.rc === '00') return true;
      } catch {
        // the bank is unreachable for now: try again
      }
      if (attempt < this.o.report_attempts) await new Promise((r) => setTimeout(r, this.o.report_retry_ms));
    }
    return false;
  }
}
