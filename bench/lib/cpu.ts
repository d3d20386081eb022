// CPU time used by the processes of the money path (from /proc, Linux only): the switch, the PostgreSQL backends
// of the benchmark's database, Redis, and this process (the load driver). Throughput on a shared 2-core machine
// moves with whatever else runs; CPU time per approval barely does, so it is what shows a change in cost.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type { Knex } from 'knex';
import type { Redis } from 'ioredis';

const TICK_MS = 10; // USER_HZ = 100 on Linux

/** User + system CPU time a process has used so far, in ms (0 if it is gone). */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS; // utime, stime
  } catch {
    return 0; // gone, or not Linux
  }
}

/**
 * How often a process has gone to sleep so far (voluntary context switches, all its threads; 0 if gone). On this
 * virtual machine each sleep and wake-up costs on the order of 100 µs of CPU, so sleeps per approval say how well
 * the batching works.
 */
export function sleeps(pid: number): number {
  let n = 0;
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'));
      if (m) n += Number(m[1]);
    }
  } catch {
    /* gone, or not Linux */
  }
  return n;
}

export interface CpuSample {
  /** performance.now() when taken */
  atMs: number;
  switchMs: number;
  /** By backend pid: the switch's connections only (autovacuum, started by whatever ran before, is left out). */
  postgres: Map<number, number>;
  redisMs: number;
  driverMs: number;
  /** Sleeps (see sleeps()) of the switch, Redis and the driver; of the PostgreSQL backends by pid. */
  sleeps: { switch: number; redis: number; driver: number };
  pgSleeps: Map<number, number>;
}

export interface CpuProbe {
  sample(): Promise<CpuSample>;
}

export function cpuProbe(o: { switchPid: number; db: Knex; database: string; redis: Redis }): CpuProbe {
  let redisPid: number | null = null;
  return {
    async sample() {
      redisPid ??= Number(/process_id:(\d+)/.exec(await o.redis.info('server'))?.[1] ?? 0);
      const rows = await o.db.raw(
        `SELECT pid FROM pg_stat_activity WHERE datname = ? AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
        [o.database],
      );
      const pgPids: number[] = (rows.rows as Array<{ pid: number }>).map((r) => r.pid);
      const driver = process.cpuUsage();
      return {
        atMs: performance.now(),
        switchMs: cpuMs(o.switchPid),
        postgres: new Map(pgPids.map((p) => [p, cpuMs(p)])),
        redisMs: redisPid ? cpuMs(redisPid) : 0,
        driverMs: (driver.user + driver.system) / 1000,
        sleeps: {
          switch: sleeps(o.switchPid),
          redis: redisPid ? sleeps(redisPid) : 0,
          driver: sleeps(process.pid),
        },
        pgSleeps: new Map(pgPids.map((p) => [p, sleeps(p)])),
      };
    },
  };
}

/** "CPU per approval: switch 180 µs, PostgreSQL 120 µs, …" between two samples. */
export function cpuPerApproval(a: CpuSample, b: CpuSample, approvals: number): string {
  if (approvals <= 0) return 'CPU per approval: no approvals';
  const us = (k: 'switchMs' | 'redisMs' | 'driverMs') => Math.round(((b[k] - a[k]) * 1000) / approvals);
  // A connection opened during the phase counts from zero; one closed during it is missed (rare: a pool keeps them).
  let pgMs = 0;
  for (const [pid, ms] of b.postgres) pgMs += ms - (a.postgres.get(pid) ?? 0);
  const pg = Math.round((pgMs * 1000) / approvals);
  const total = us('switchMs') + pg + us('redisMs');
  // How busy the whole box was: queueing (so latency) grows fast as this nears 100 %.
  const busy = ((total + us('driverMs')) * approvals) / 1000 / ((b.atMs - a.atMs) * os.cpus().length);
  // A backend that came or went during the phase makes the PostgreSQL figure approximate (pools keep theirs).
  const per = (k: keyof CpuSample['sleeps']) => ((b.sleeps[k] - a.sleeps[k]) / approvals).toFixed(2);
  let pgSleeps = 0;
  for (const [pid, n] of b.pgSleeps) pgSleeps += n - (a.pgSleeps.get(pid) ?? 0);
  return `CPU per approval: switch ${us('switchMs')} µs, PostgreSQL ${pg} µs, Redis ${us('redisMs')} µs ` +
    `(server side ${total} µs); load driver ${us('driverMs')} µs; these four kept the ${os.cpus().length} cores ${Math.round(busy * 100)} % busy\n` +
    `  sleeps per approval: switch ${per('switch')}, PostgreSQL ${(pgSleeps / approvals).toFixed(2)}, Redis ${per('redis')}, load driver ${per('driver')}`;
}
