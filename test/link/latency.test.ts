import test from 'ava';
import { BUCKET_BOUNDS_MS, LatencyHistogram, between, percentileMs } from '../../switch/link/latency.ts';

test('a percentile is the upper bound of its bucket: never below the true value, at most 9 % above it', (t) => {
  for (const ms of [0.01, 0.05, 0.051, 0.3, 1, 2.5, 7.77, 10, 99.9, 1_234, 45_000]) {
    const h = new LatencyHistogram();
    h.record(ms);
    const p = percentileMs(h.snapshot(), 50);
    t.true(p >= ms, `${ms} ms reported as ${p}`);
    t.true(p <= Math.max(ms, BUCKET_BOUNDS_MS[0]!) * 1.091, `${ms} ms reported as ${p}`);
  }
});

test('p50 and p99 of many values fall where the values are', (t) => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 98; i++) h.record(2); // 98 at 2 ms
  h.record(40);
  h.record(41); // the slowest two
  const s = h.snapshot();
  t.is(s.count, 100);
  t.true(percentileMs(s, 50) >= 2 && percentileMs(s, 50) < 2.2);
  t.true(percentileMs(s, 98) < 2.2, 'the 98th value is still 2 ms');
  t.true(percentileMs(s, 99) >= 40 && percentileMs(s, 99) < 44);
  t.is(s.maxMs, 41);
});

test('two snapshots subtracted give the figures of the period between them', (t) => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 50; i++) h.record(100);
  const before = h.snapshot();
  for (let i = 0; i < 10; i++) h.record(1);
  const period = between(before, h.snapshot());
  t.is(period.count, 10);
  t.true(percentileMs(period, 99) < 1.1, 'the slow values before the period are not in it');
  t.is(percentileMs(between(h.snapshot(), h.snapshot()), 50), NaN, 'an empty period has no percentile');
});

test('a value beyond the last bound (about a minute) lands in the last bucket and is reported as the max', (t) => {
  const h = new LatencyHistogram();
  h.record(90_000);
  const s = h.snapshot();
  t.is(s.counts[s.counts.length - 1], 1);
  t.is(percentileMs(s, 50), 90_000);
});
