// The switch's own view of a benchmark phase, from its ops API (/v1/latency): a 0200 from taken up to its answer
// written, and how long of it each store took. Two readings subtract to the figures of the phase between them.
import { between, percentileMs, type LatencySnapshot } from '../../switch/link/latency.ts';

interface Figures {
  count: number;
  max_ms: number;
  counts: number[];
}

export interface InsideReading {
  all: LatencySnapshot | undefined;
  stages: Record<string, LatencySnapshot | undefined>;
}

const snapshotOf = (w: Figures | undefined): LatencySnapshot | undefined => w && { count: w.count, maxMs: w.max_ms, counts: w.counts };

export async function readInside(adminPort: number): Promise<InsideReading> {
  const body = (await (await fetch(`http://127.0.0.1:${adminPort}/v1/latency`)).json()) as { by_mti: Record<string, Figures>; withdrawal_stages?: Record<string, Figures> };
  return { all: snapshotOf(body.by_mti['0200']), stages: Object.fromEntries(Object.entries(body.withdrawal_stages ?? {}).map(([k, v]) => [k, snapshotOf(v)])) };
}

const ms = (n: number) => `${n.toFixed(2)} ms`;

/** The 0200s answered between two readings: p50 and p99 (bucket bounds, up to 9 % high), and per stage. */
export function insideBetween(before: InsideReading, after: InsideReading): { p50: number; p99: number; stages: string } {
  const all = between(before.all, after.all ?? { count: 0, maxMs: 0, counts: [] });
  const stages = Object.entries(after.stages).map(([stage, a]) => {
    const d = between(before.stages[stage], a!);
    return `${stage} p50 ${ms(percentileMs(d, 50))} p99 ${ms(percentileMs(d, 99))}`;
  });
  return { p50: percentileMs(all, 50), p99: percentileMs(all, 99), stages: stages.join('; ') };
}
