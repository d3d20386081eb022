// Two versions of the switch side by side, at the same time, against the same PostgreSQL, Redis and campaign: what a
// change does to latency, measured through the same noise. Identical runs of `npm run bench` differ by ±30 % on
// this shared 2-core machine; here both versions live through the same moments, so their ratio holds much steadier.
//   npm run bench:ab -- --b <another checkout> [--rate 1500] [--rounds 5] [--duration-s 10] [--roster 200000]
//                       [--a-node-args "..."] [--b-node-args "..."]
// --b is a checkout with node_modules (e.g. `git worktree add /tmp/base HEAD~1 && cp -r node_modules /tmp/base/`);
// A is this one. --b . compares this checkout with itself, e.g. under other node flags (--b-node-args
// "--max-semi-space-size=128": a later V8 flag overrides the switch's own). --rate is per switch: each gets its own 100 connections × 4 in flight. Two switches on one
// campaign is how the switch runs in production too (exactly once across instances).
import { existsSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { freshDatabase, freshRedis } from '../test/helpers/services.ts';
import { startSwitch, type SwitchProcess } from '../test/helpers/switch-process.ts';
import { DEV_IDENTITY_KEY } from '../switch/config.ts';
import { openCampaign } from '../switch/ledger/opening.ts';
import { createRedis } from '../switch/redis.ts';
import { systemClock } from '../switch/clock.ts';
import { silentLogger } from '../switch/log.ts';
import { drive, type DriveResult } from './lib/driver.ts';
import { BENCH_CAMPAIGN, benchCampaign, settle } from './lib/campaign.ts';
import { insideBetween, readInside } from './lib/inside.ts';
import { signOn, stanOf, terminalOf, withdrawalFor } from './lib/withdrawals.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}
const bAt = process.argv.indexOf('--b');
const B_ROOT = bAt >= 0 ? path.resolve(process.argv[bAt + 1] ?? '') : '';
if (!B_ROOT || !existsSync(path.join(B_ROOT, 'switch/main.ts')) || !existsSync(path.join(B_ROOT, 'node_modules'))) {
  console.error('bench:ab: --b must name another checkout of this repository, with node_modules');
  process.exit(2);
}
const textArg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? '').split(' ').filter(Boolean) : [];
};
const A_NODE_ARGS = textArg('a-node-args');
const B_NODE_ARGS = textArg('b-node-args');
const ROSTER = arg('roster', 200_000);
const RATE = arg('rate', 1_500);
const ROUNDS = Math.min(12, arg('rounds', 5)); // two phase letters per round, A-X (Y, Z: the warm-up)
const WARM_UP_MS = 5_000;
const DURATION_MS = arg('duration-s', 10) * 1000;
const CONNECTIONS = 100;
const IN_FLIGHT = 4;
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const ms = (n: number) => `${n.toFixed(2)} ms`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const tdb = await freshDatabase();
const tredis = await freshRedis();
const switches: SwitchProcess[] = [];
try {
  console.log(`A/B: A = ${ROOT} ${A_NODE_ARGS.join(' ')}, B = ${B_ROOT} ${B_NODE_ARGS.join(' ')}; roster ${ROSTER}, ${RATE}/s offered to each, ${ROUNDS} rounds of ${DURATION_MS / 1000} s, ${os.cpus().length} cores`);
  const { roster } = await benchCampaign(tdb.db, ROSTER);
  const control = createRedis(tredis.url, { commandTimeout: 60_000, enableOfflineQueue: true });
  await openCampaign({ db: tdb.db, redis: control, clock: systemClock, logger: silentLogger }, BENCH_CAMPAIGN);
  control.disconnect();
  const env = { DATABASE_URL: tdb.url, REDIS_URL: tredis.url, IDENTITY_KEY: DEV_IDENTITY_KEY, LOG_LEVEL: 'info' };
  const a = await startSwitch(env, 30_000, A_NODE_ARGS);
  switches.push(a);
  const b = await startSwitch(env, 30_000, B_NODE_ARGS, B_ROOT);
  switches.push(b);

  let nextPerson = 0;
  const run = (sw: SwitchProcess, label: string, durationMs = DURATION_MS): Promise<DriveResult> =>
    drive({
      port: sw.isoPort, connections: CONNECTIONS, inFlightPerConnection: IN_FLIGHT, durationMs, ratePerSecond: RATE, prelude: signOn,
      next: (c, seq) => (nextPerson >= ROSTER ? null : withdrawalFor(roster.personAt(nextPerson++), terminalOf(label, c), stanOf(seq))),
    });
  // A warm-up, not counted: the first seconds after a start (JIT, pools, the campaign just loaded) are slow for both.
  const [wa, wb] = await Promise.all([run(a, 'Y', WARM_UP_MS), run(b, 'Z', WARM_UP_MS)]);
  let approvals = (wa.codes['00'] ?? 0) + (wb.codes['00'] ?? 0);
  const ratios: number[] = [];
  const insideRatios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await settle(tdb.db);
    const [beforeA, beforeB] = await Promise.all([readInside(a.adminPort), readInside(b.adminPort)]);
    // Same moments for both; which one's connections open first alternates.
    const labels = [String.fromCharCode(65 + 2 * round), String.fromCharCode(66 + 2 * round)] as const;
    const [ra, rb] = round % 2 === 0
      ? await Promise.all([run(a, labels[0]), run(b, labels[1])])
      : (await Promise.all([run(b, labels[1]), run(a, labels[0])])).reverse() as [DriveResult, DriveResult];
    const [ia, ib] = [insideBetween(beforeA, await readInside(a.adminPort)), insideBetween(beforeB, await readInside(b.adminPort))];
    approvals += (ra.codes['00'] ?? 0) + (rb.codes['00'] ?? 0);
    ratios.push(rb.latencyMs.p99 / ra.latencyMs.p99);
    insideRatios.push(ib.p99 / ia.p99);
    console.log(`round ${round + 1}: A p50 ${ms(ra.latencyMs.p50)} p99 ${ms(ra.latencyMs.p99)} (inside ${ms(ia.p99)}; ${ia.stages || 'no stages'})`);
    console.log(`         B p50 ${ms(rb.latencyMs.p50)} p99 ${ms(rb.latencyMs.p99)} (inside ${ms(ib.p99)}; ${ib.stages || 'no stages'})`);
    console.log(`         B/A p99 x${(rb.latencyMs.p99 / ra.latencyMs.p99).toFixed(2)} (inside x${(ib.p99 / ia.p99).toFixed(2)}); codes A ${JSON.stringify(ra.codes)} B ${JSON.stringify(rb.codes)}`);
  }
  console.log(`B/A p99 over ${ROUNDS} rounds: median x${median(ratios).toFixed(2)} (each: ${ratios.map((r) => r.toFixed(2)).join(', ')}); inside the switches median x${median(insideRatios).toFixed(2)}`);
  const standing = Number((await tdb.db('withdrawals').whereNot('state', 'VOIDED').count<{ n: string }[]>('* as n'))[0]!.n);
  console.log(`PostgreSQL withdrawals standing ${standing} vs approvals the clients saw ${approvals}: ${standing === approvals ? 'equal' : 'DIFFERENT'}`);
} finally {
  for (const sw of switches) await sw.stop('SIGTERM').catch(() => {});
  await tredis.release();
  await tdb.drop();
}
