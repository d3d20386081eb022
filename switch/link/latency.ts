// How long the switch takes to answer, per request type: from taking a request up (decode) to its answer written to
// the socket. Fixed exponential buckets (each 2^(1/8), about 9 %, wider than the one before), so memory stays bounded
// whatever the traffic, and two snapshots can be subtracted to get the latency of any period (the benchmark's phases).

/** Upper bounds of the buckets in ms: 0.05 ms … ~60 s; one more bucket holds everything slower. */
export const BUCKET_BOUNDS_MS: readonly number[] = Array.from({ length: 162 }, (_, i) => 0.05 * 2 ** (i / 8));

export interface LatencySnapshot {
  count: number;
  maxMs: number;
  /** Per bucket of BUCKET_BOUNDS_MS, and a last one for what is above them all. */
  counts: number[];
}

export class LatencyHistogram {
  private readonly counts = new Array<number>(BUCKET_BOUNDS_MS.length + 1).fill(0);
  private count = 0;
  private maxMs = 0;

  record(ms: number): void {
    // The first bound at or above ms: bucket i holds (bound[i-1], bound[i]].
    const i = ms <= BUCKET_BOUNDS_MS[0]! ? 0 : Math.min(BUCKET_BOUNDS_MS.length, Math.ceil(8 * Math.log2(ms / 0.05) - 1e-9));
    this.counts[i]!++;
    this.count++;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  snapshot(): LatencySnapshot {
    return { count: this.count, maxMs: this.maxMs, counts: [...this.counts] };
  }
}

/** What happened between two snapshots of the same histogram (the max is the later one's: it is not subtractable). */
export function between(before: LatencySnapshot | undefined, after: LatencySnapshot): LatencySnapshot {
  if (!before) return after;
  return { count: after.count - before.count, maxMs: after.maxMs, counts: after.counts.map((c, i) => c - (before.counts[i] ?? 0)) };
}

/** The p-th percentile (0–100) as the upper bound of its bucket, so at most ~9 % above the true value; NaN if empty. */
export function percentileMs(s: LatencySnapshot, p: number): number {
  if (s.count === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * s.count));
  let seen = 0;
  for (let i = 0; i < s.counts.length; i++) {
    seen += s.counts[i]!;
    if (seen >= rank) return i < BUCKET_BOUNDS_MS.length ? BUCKET_BOUNDS_MS[i]! : s.maxMs;
  }
  return s.maxMs;
}

/** One histogram per MTI. */
export class Latencies {
  private readonly byMti = new Map<string, LatencyHistogram>();

  record(mti: string, ms: number): void {
    let h = this.byMti.get(mti);
    if (!h) this.byMti.set(mti, (h = new LatencyHistogram()));
    h.record(ms);
  }

  snapshot(): Record<string, LatencySnapshot> {
    return Object.fromEntries([...this.byMti].map(([mti, h]) => [mti, h.snapshot()]));
  }
}
