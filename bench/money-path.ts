// The money path under load, against the ceiling of this machine. In one run it prints:
//  - roster import rows/s (a synthetic roster of --roster people, 1,000,000 by default);
//  - Redis bytes per entitlement, the time to load (open) and to rebuild Redis from PostgreSQL;
//  - a trivial echo server's round trips/s with the same framing, connections and requests in flight;
//  - the switch's durable approvals/s through the whole path (decode, rules, Redis, PostgreSQL group commit, encode),
//    with p50/p99/max latency, and the ratio to the echo rate;
//  - latency at half and at a quarter of the maximum rate, and at 100/s;
//  - withdrawals each followed by its 0220 confirmation, at full load.
//   npm run bench -- [--roster 1000000] [--connections 100] [--in-flight 4] [--duration-s 10]
// Uses its own fresh database and Redis logical DB, and drops them after.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDatabase, freshRedis } from '../test/helpers/services.ts';
import { startSwitch } from '../test/helpers/switch-process.ts';
import { DEV_IDENTITY_KEY } from '../switch/config.ts';
import { openCampaign } from '../switch/ledger/opening.ts';
import { createLedger } from '../switch/ledger/index.ts';
import { createRedis } from '../switch/redis.ts';
import { systemClock } from '../switch/clock.ts';
import { silentLogger } from '../switch/log.ts';
import { drive, type DriveResult } from './lib/driver.ts';
import { BENCH_CAMPAIGN, benchCampaign, settle } from './lib/campaign.ts';
import { insideBetween, readInside } from './lib/inside.ts';
import { confirmationFor, signOn, stanOf, terminalOf, withdrawalFor } from './lib/withdrawals.ts';
import { cpuMs, cpuPerApproval, cpuProbe } from './lib/cpu.ts';
import { sampleWaits } from './lib/waits.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const ROSTER = arg('roster', 1_000_000);
const CONNECTIONS = arg('connections', 100);
const IN_FLIGHT = arg('in-flight', 4);
const DURATION_MS = arg('duration-s', 10) * 1000;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => `${n.toFixed(2)} ms`;

function line(label: string, r: DriveResult): string {
  const l = r.latencyMs;
  return `${label}: ${fmt(r.perSecond)}/s (${fmt(r.answered)} answered in ${(r.elapsedMs / 1000).toFixed(1)} s; p50 ${ms(l.p50)}, p99 ${ms(l.p99)}, max ${ms(l.max)}; codes ${JSON.stringify(r.codes)})`;
}

async function startEcho(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/lib/echo-main.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  return { port: JSON.parse(chunk.toString()).port, child };
}

const tdb = await freshDatabase();
const tredis = await freshRedis();
const children: ChildProcess[] = [];
try {
  console.log(`money path benchmark: roster ${fmt(ROSTER)}, ${CONNECTIONS} connections x ${IN_FLIGHT} in flight, ${DURATION_MS / 1000} s per phase, ${os.cpus().length} cores`);
  const { roster, rows, rejected, importS } = await benchCampaign(tdb.db, ROSTER);
  console.log(`roster import: ${fmt(rows / importS)} rows/s (${fmt(rows)} rows, ${fmt(rejected)} rejected, ${importS.toFixed(1)} s)`);

  const control = createRedis(tredis.url, { commandTimeout: 60_000, enableOfflineQueue: true });
  const memBefore = Number(/used_memory:(\d+)/.exec(await control.info('memory'))![1]);
  let t = performance.now();
  const opened = await openCampaign({ db: tdb.db, redis: control, clock: systemClock, logger: silentLogger }, BENCH_CAMPAIGN);
  const openS = (performance.now() - t) / 1000;
  const memAfter = Number(/used_memory:(\d+)/.exec(await control.info('memory'))![1]);
  console.log(`campaign open (payouts + Redis load): ${openS.toFixed(1)} s for ${fmt(opened.entitlements)} entitlements`);
  console.log(`Redis memory: ${((memAfter - memBefore) / opened.entitlements).toFixed(1)} bytes per entitlement (used_memory delta)`);

  await control.flushdb();
  const ledger = createLedger({ db: tdb.db, redis: control, redisUrl: tredis.url, clock: systemClock, identityKey: DEV_IDENTITY_KEY, logger: silentLogger, jobs: false });
  t = performance.now();
  await ledger.rebuild(BENCH_CAMPAIGN);
  console.log(`Redis rebuild from PostgreSQL after FLUSHDB: ${((performance.now() - t) / 1000).toFixed(1)} s for ${fmt(opened.entitlements)} entitlements`);
  control.disconnect();
  // A campaign opens well before its rush: what the bulk load left behind (autovacuum of the new rows, a checkpoint
  // of the dirty pages) would otherwise land in the middle of the measurement, on the same two cores.
  console.log(`settled after the bulk load (VACUUM ANALYZE, CHECKPOINT): ${await settle(tdb.db)}`);

  // The ceiling: same client, same framing, same connections and requests in flight, a server that does nothing.
  const echo = await startEcho();
  children.push(echo.child);
  const echoCpu0 = cpuMs(echo.child.pid!);
  const echoRun = await drive({
    port: echo.port, connections: CONNECTIONS, inFlightPerConnection: IN_FLIGHT, durationMs: DURATION_MS,
    next: (c, seq) => withdrawalFor(roster.personAt((c * 7919 + seq) % ROSTER), terminalOf('E', c), stanOf(seq)),
  });
  const echoCpuUs = ((cpuMs(echo.child.pid!) - echoCpu0) * 1000) / Math.max(1, echoRun.answered);
  echo.child.kill('SIGTERM');
  console.log(line('echo server round trips', echoRun) + `; echo server CPU ${echoCpuUs.toFixed(0)} µs per round trip`);

  // BENCH_CPU_PROF=DIR writes a V8 CPU profile of the switch process there (open it in Chrome DevTools);
  // BENCH_NODE_ARGS adds node flags to the switch (e.g. --perf-basic-prof for `perf record`, --trace-gc-nvp with
  // BENCH_DUMP_SWITCH_LOG=FILE); BENCH_TIMELINE=PREFIX writes each phase's answers (sent at, latency) to PREFIX-<phase>;
  // BENCH_WAITS=1 prints what PostgreSQL's sessions were doing during each phase (bench/lib/waits.ts).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [];
  const sw = await startSwitch({ DATABASE_URL: tdb.url, REDIS_URL: tredis.url, IDENTITY_KEY: DEV_IDENTITY_KEY, LOG_LEVEL: 'info' }, 20_000, profile);
  children.push(sw.child);
  const probeRedis = createRedis(tredis.url, { commandTimeout: 10_000, enableOfflineQueue: true });
  const probe = cpuProbe({ switchPid: sw.child.pid!, db: tdb.db, database: tdb.name, redis: probeRedis });
  let nextPerson = 0;
  let lastCpu = '';
  // The switch's own view of a phase (ops API): from taking a 0200 up to its answer written. The rest of what the
  // clients see is the sockets and the load generator, which share the cores.
  const copies = async () => (await (await fetch(`http://127.0.0.1:${sw.adminPort}/v1/roster-copies`)).json()) as { from_copy: number; from_postgres: number; reread: number };
  // Each rate-limited phase starts from a settled PostgreSQL, as the first does: otherwise it pays for the phase before
  // it (the vacuum of its rows, the checkpoint of its pages), which at half rate cost more CPU than the phase's own
  // approvals. BENCH_NO_SETTLE=1 runs the phases back to back instead.
  const settleBetween = !process.env.BENCH_NO_SETTLE;
  const phase = async (label: string, rate?: number, followUp?: typeof confirmationFor) => {
    if (label !== 'M' && settleBetween) console.log(`  (settled before this phase: ${await settle(tdb.db)})`);
    const before = await probe.sample();
    const insideBefore = await readInside(sw.adminPort);
    const copiesBefore = await copies();
    const waits = process.env.BENCH_WAITS ? sampleWaits(tdb.db) : null;
    const r = await drive({
      port: sw.isoPort, connections: CONNECTIONS, inFlightPerConnection: IN_FLIGHT, durationMs: DURATION_MS, ratePerSecond: rate, prelude: signOn,
      timelineFile: process.env.BENCH_TIMELINE ? `${process.env.BENCH_TIMELINE}-${label}` : undefined, followUp,
      next: (c, seq) => (nextPerson >= ROSTER ? null : withdrawalFor(roster.personAt(nextPerson++), terminalOf(label, c), stanOf(seq))),
    });
    const s = insideBetween(insideBefore, await readInside(sw.adminPort));
    const c = await copies();
    const fromCopy = c.from_copy - copiesBefore.from_copy;
    const decided = fromCopy + c.from_postgres - copiesBefore.from_postgres;
    lastCpu = `  inside the switch (0200 taken up to answer written; bucket bounds, up to 9 % high): p50 ${ms(s.p50)}, p99 ${ms(s.p99)}\n` +
      `  of which waiting on: ${s.stages}\n` +
      `  decided from the switch's in-memory roster copy: ${((fromCopy / Math.max(1, decided)) * 100).toFixed(1)} % (decided again from PostgreSQL: ${c.reread - copiesBefore.reread})\n` +
      `  ${cpuPerApproval(before, await probe.sample(), r.codes['00'] ?? 0)}` +
      (waits ? `\n  PostgreSQL sessions, sampled every 50 ms (BENCH_WAITS):\n    ${await waits.stop(6)}` : '');
    return r;
  };
  const max = await phase('M');
  console.log(line('switch, durable approvals at full load', max));
  console.log(lastCpu);
  const approvals = max.codes['00'] ?? 0;
  const approvalRate = (approvals / max.elapsedMs) * 1000;
  console.log(`approvals/s ${fmt(approvalRate)} = ${((approvalRate / echoRun.perSecond) * 100).toFixed(1)} % of the echo rate (target >= 15 %)`);
  const half = await phase('H', approvalRate / 2);
  console.log(line(`switch at half the maximum rate (${fmt(approvalRate / 2)}/s offered)`, half));
  console.log(lastCpu);
  console.log(`p99 at half rate: ${ms(half.latencyMs.p99)} (target <= 10 ms)`);
  // Where the latency bends: a quarter of the maximum, between half and the bare path.
  const quarter = await phase('Q', approvalRate / 4);
  console.log(line(`switch at a quarter of the maximum rate (${fmt(approvalRate / 4)}/s offered)`, quarter));
  console.log(lastCpu);
  const light = await phase('L', 100);
  console.log(line('switch at 100/s (the latency of the path itself, no queueing)', light));
  console.log(lastCpu);
  // A withdrawal as a bank completes it: the approval, then its 0220 (the ATM dispensed), sent at once on the same
  // connection in the slot the approval freed. The 0200s' figures; the CPU per approval includes its confirmation.
  const completed = await phase('C', undefined, confirmationFor);
  const f = completed.followUps!;
  console.log(line('switch, withdrawals followed by their 0220 confirmation, at full load', completed));
  console.log(`  the 0220s: ${fmt(f.answered)} answered (${fmt((f.answered / completed.elapsedMs) * 1000)}/s); p50 ${ms(f.latencyMs.p50)}, p99 ${ms(f.latencyMs.p99)}, max ${ms(f.latencyMs.max)}; codes ${JSON.stringify(f.codes)}`);
  console.log(lastCpu);
  const n = Number((await tdb.db('withdrawals').count<{ n: string }[]>('* as n'))[0]!.n);
  const seenApprovals = approvals + (half.codes['00'] ?? 0) + (quarter.codes['00'] ?? 0) + (light.codes['00'] ?? 0) + (completed.codes['00'] ?? 0);
  const states = await tdb.db('withdrawals').select('state').count('* as n').groupBy('state');
  const standing = states.filter((r) => r.state !== 'VOIDED').reduce((a, r) => a + Number(r.n), 0);
  console.log(
    `PostgreSQL withdrawals standing ${fmt(standing)} vs approvals the clients saw ${fmt(seenApprovals)}: ${standing === seenApprovals ? 'equal' : 'DIFFERENT'} ` +
      `(by state: ${states.map((r) => `${r.state} ${r.n}`).join(', ')}; all rows ${n})`,
  );
  // A 0220 answered 91 may still have been recorded (its batch committed after the deadline): the bank repeats it as a
  // 0221 and hears 00. So: at least every confirmation answered 00, at most every one answered.
  const paid = Number(states.find((r) => r.state === 'PAID')?.n ?? 0);
  const confirmedOk = f.codes['00'] ?? 0;
  console.log(
    `PostgreSQL withdrawals PAID ${fmt(paid)}; confirmations answered 00 ${fmt(confirmedOk)}, answered at all ${fmt(f.answered)}: ` +
      `${paid >= confirmedOk && paid <= f.answered ? 'consistent' : 'INCONSISTENT'}`,
  );
  if (process.env.BENCH_DUMP_SWITCH_LOG) (await import('node:fs')).writeFileSync(process.env.BENCH_DUMP_SWITCH_LOG, sw.lines.join('\n'));
  probeRedis.disconnect();
  await ledger.stop();
  await sw.stop('SIGTERM');
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await tredis.release();
  await tdb.drop();
}
