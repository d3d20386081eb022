// `load`: N terminals withdrawing for people drawn from a roster, at a rate or as fast as they can, for a bounded
// time, then a summary that ends in the reconciliation of cash out of the ATMs against the ledger's paid total.
// Everything is bounded: terminals, attempts, duration, and one request in flight per terminal.
import { systemClock, type Clock } from '../../switch/clock.ts';
import type { AtmBackend } from '../bank/atm-protocol.ts';
import { claimantFor, taipeiDate, type Person } from './people.ts';
import { Prng } from './prng.ts';
import { AtmTerminal, OUTCOME_KINDS, type OutcomeKind, type SessionResult } from './terminal.ts';

export const LOAD_LIMITS = { MAX_TERMINALS: 1_000, MAX_DURATION_S: 24 * 3600, MAX_ATTEMPTS: 1_000_000, MAX_RATE_PER_S: 10_000 } as const;

export interface LoadOptions {
  terminals: number;
  /** The backend terminal `index` talks to (one per terminal over TCP, or one shared in-process gateway). */
  backendFor(index: number): AtmBackend;
  people: Person[];
  /** The claimant's own bank card, when the terminals go through a bank that checks cards; null skips the person. */
  cardFor?: (claimantId: string) => { card: string; pin: string } | null;
  /** Attempts started per second across all terminals; null or absent: as fast as the terminals go. */
  rate_per_s?: number | null;
  duration_s: number;
  max_attempts?: number;
  seed?: number;
  /** Weights of what happens after an approval; default all full dispenses. */
  outcomes?: Partial<Record<OutcomeKind, number>>;
  /** When the roster row has no amount. */
  default_amount_twd?: number;
  campaign?: string;
  terminal_prefix?: string;
  response_timeout_ms?: number;
  progress_interval_ms?: number;
  onProgress?: (p: LoadProgress) => void;
  /** Called after the last attempt, before the ledger is read (e.g. wait for the bank's advice queue to drain). */
  settle?: () => Promise<void>;
  /** The paid total in the ledger, whole TWD (ops API or SQL on the payouts table); null when not available. */
  ledgerPaidTwd?: () => Promise<number | null>;
  clock?: Clock;
}

export interface LoadProgress {
  elapsedS: number;
  attempts: number;
  approvals: number;
  inFlight: number;
  dispensedTwd: number;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LoadSummary {
  attempts: number;
  /** Per response code, as the ATMs saw them (68: the terminal's or the bank's timeout). */
  counts: Record<string, number>;
  outcomes: Record<OutcomeKind | 'declined', number>;
  approvals: number;
  skippedNoCard: number;
  elapsedS: number;
  approvalsPerS: number;
  latencyMs: LatencySummary | null;
  dispensedTwd: number;
  reportsUnacknowledged: number;
  ledgerPaidTwd: number | null;
  reconciliation: { status: 'equal' | 'differs' | 'unavailable'; differenceTwd: number };
}

export class LoadOptionsError extends Error {}

function check(o: LoadOptions): void {
  const L = LOAD_LIMITS;
  if (!Number.isInteger(o.terminals) || o.terminals < 1 || o.terminals > L.MAX_TERMINALS) throw new LoadOptionsError(`terminals must be 1 to ${L.MAX_TERMINALS}`);
  if (!(o.duration_s > 0 && o.duration_s <= L.MAX_DURATION_S)) throw new LoadOptionsError(`duration must be more than 0 and at most ${L.MAX_DURATION_S} s`);
  if (o.rate_per_s != null && !(o.rate_per_s > 0 && o.rate_per_s <= L.MAX_RATE_PER_S)) throw new LoadOptionsError(`rate must be more than 0 and at most ${L.MAX_RATE_PER_S} per second`);
  if (o.max_attempts !== undefined && !(Number.isInteger(o.max_attempts) && o.max_attempts >= 1 && o.max_attempts <= L.MAX_ATTEMPTS)) {
    throw new LoadOptionsError(`max attempts must be 1 to ${L.MAX_ATTEMPTS}`);
  }
  if (o.people.length === 0) throw new LoadOptionsError('the roster has no people to draw from');
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export async function runLoad(o: LoadOptions): Promise<LoadSummary> {
  check(o);
  const clock = o.clock ?? systemClock;
  const prng = new Prng(o.seed ?? 1);
  const order = prng.shuffle([...o.people]);
  const weights = { ...Object.fromEntries(OUTCOME_KINDS.map((k) => [k, 0])), ...(o.outcomes ?? { full: 1 }) } as Record<OutcomeKind, number>;
  const maxAttempts = o.max_attempts ?? LOAD_LIMITS.MAX_ATTEMPTS;
  const prefix = o.terminal_prefix ?? 'ATM';
  const terminals = Array.from(
    { length: o.terminals },
    (_, i) =>
      new AtmTerminal({
        terminalId: (prefix + String(i + 1).padStart(8 - prefix.length, '0')).slice(0, 8),
        backend: o.backendFor(i),
        clock,
        ...(o.response_timeout_ms ? { response_timeout_ms: o.response_timeout_ms } : {}),
      }),
  );

  const counts: Record<string, number> = {};
  const outcomes = Object.fromEntries([...OUTCOME_KINDS, 'declined'].map((k) => [k, 0])) as LoadSummary['outcomes'];
  const latencies: number[] = [];
  let attempts = 0;
  let approvals = 0;
  let dispensedTwd = 0;
  let skippedNoCard = 0;
  let reportsUnacknowledged = 0;
  let inFlight = 0;
  let tickets = 0;
  const startMs = performance.now();
  const endMs = startMs + o.duration_s * 1000;
  const elapsedS = () => (performance.now() - startMs) / 1000;

  /** The next attempt's start, or null when the run is over. Tickets are handed out in order, so draws are seeded. */
  const nextTicket = async (): Promise<number | null> => {
    if (tickets >= maxAttempts || performance.now() >= endMs) return null;
    const n = tickets++;
    if (o.rate_per_s) {
      const at = startMs + (n * 1000) / o.rate_per_s;
      if (at >= endMs) return null;
      const wait = at - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    return n;
  };

  const record = (r: SessionResult) => {
    attempts++;
    counts[r.rc] = (counts[r.rc] ?? 0) + 1;
    outcomes[r.outcome]++;
    if (r.rc === '00') approvals++;
    if (r.latencyMs !== null) latencies.push(r.latencyMs);
    dispensedTwd += r.dispensedTwd;
    if (r.reportAcknowledged === false) reportsUnacknowledged++;
  };

  const progressTimer =
    o.onProgress &&
    setInterval(() => o.onProgress!({ elapsedS: elapsedS(), attempts, approvals, inFlight, dispensedTwd }), o.progress_interval_ms ?? 500);

  const worker = async (terminal: AtmTerminal) => {
    for (;;) {
      const n = await nextTicket();
      if (n === null) return;
      const person = order[n % order.length]!;
      const amountTwd = person.amountTwd ?? o.default_amount_twd ?? 6_000;
      const outcome = prng.pick(weights);
      const partialTwd = amountTwd >= 200 ? prng.int(1, Math.floor(amountTwd / 100) - 1) * 100 : 0;
      const claimantId = claimantFor(person, taipeiDate(clock.now()));
      let card: { card: string; pin: string } | null = null;
      if (o.cardFor) {
        card = o.cardFor(claimantId);
        if (!card) {
          skippedNoCard++;
          continue;
        }
      }
      inFlight++;
      try {
        const result = await terminal.withdraw(
          { ...(card ?? {}), nhi: person.nhi, claimantId, ...(o.campaign ? { campaign: o.campaign } : {}) },
          { amountTwd, outcome: outcome === 'partial' && partialTwd === 0 ? 'full' : outcome, partialTwd },
        );
        record(result);
      } finally {
        inFlight--;
      }
    }
  };

  try {
    await Promise.all(terminals.map(worker));
  } finally {
    if (progressTimer) clearInterval(progressTimer);
  }
  const elapsed = elapsedS();
  if (o.settle) await o.settle();
  const ledgerPaidTwd = o.ledgerPaidTwd ? await o.ledgerPaidTwd() : null;
  latencies.sort((a, b) => a - b);
  return {
    attempts,
    counts,
    outcomes,
    approvals,
    skippedNoCard,
    elapsedS: elapsed,
    approvalsPerS: elapsed > 0 ? approvals / elapsed : 0,
    latencyMs: latencies.length
      ? { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: latencies[latencies.length - 1]! }
      : null,
    dispensedTwd,
    reportsUnacknowledged,
    ledgerPaidTwd,
    reconciliation: reconcile(dispensedTwd, ledgerPaidTwd),
  };
}

export function reconcile(dispensedTwd: number, ledgerPaidTwd: number | null): LoadSummary['reconciliation'] {
  if (ledgerPaidTwd === null) return { status: 'unavailable', differenceTwd: 0 };
  const d = ledgerPaidTwd - dispensedTwd;
  return { status: d === 0 ? 'equal' : 'differs', differenceTwd: d };
}

const twd = (n: number) => `NT$${n.toLocaleString('en-US')}`;
const ms = (n: number) => `${n.toFixed(1)} ms`;

export function formatProgress(p: LoadProgress): string {
  return `${p.elapsedS.toFixed(1)} s | attempts ${p.attempts} | approved ${p.approvals} | in flight ${p.inFlight} | dispensed ${twd(p.dispensedTwd)}`;
}

export function formatSummary(s: LoadSummary): string[] {
  const codes = Object.keys(s.counts).sort().map((c) => `${c}=${s.counts[c]}`).join(' ');
  const outcomes = Object.entries(s.outcomes).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`).join(' ');
  const lines = [
    `attempts ${s.attempts} in ${s.elapsedS.toFixed(1)} s${s.skippedNoCard ? ` (${s.skippedNoCard} skipped: no card for the claimant)` : ''}`,
    `response codes: ${codes || 'none'}`,
    `at the machine: ${outcomes || 'nothing'}`,
    `approvals ${s.approvals} (${s.approvalsPerS.toFixed(1)}/s)`,
    s.latencyMs
      ? `latency p50 ${ms(s.latencyMs.p50)} p90 ${ms(s.latencyMs.p90)} p99 ${ms(s.latencyMs.p99)} max ${ms(s.latencyMs.max)}`
      : 'latency: no answers',
    `cash dispensed ${twd(s.dispensedTwd)}${s.reportsUnacknowledged ? ` (${s.reportsUnacknowledged} dispense reports not acknowledged by the bank)` : ''}`,
  ];
  const r = s.reconciliation;
  if (r.status === 'unavailable') lines.push(`reconciliation: ATMs dispensed ${twd(s.dispensedTwd)}; ledger paid total not available`);
  else {
    lines.push(
      `reconciliation: ATMs dispensed ${twd(s.dispensedTwd)}, ledger paid ${twd(s.ledgerPaidTwd!)}: ` +
        (r.status === 'equal' ? 'equal' : `differs by ${twd(Math.abs(r.differenceTwd))} (ledger ${r.differenceTwd > 0 ? 'higher' : 'lower'})`),
    );
  }
  return lines;
}
