// Roster import throughput: writes a synthetic roster file (1,000,000 rows by default), imports it into a fresh
// database, imports it again (every row unchanged), and prints rows/s for both, with where the time went.
//   npx tsx bench/roster-import.ts [rows]
// Besides wall time it reports CPU time (this process, and the PostgreSQL backends of the bench database, read from
// /proc on Linux): on a shared machine the wall time says more about the neighbours than about the import.
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { freshDatabase } from '../test/helpers/services.ts';
import { createCampaign } from '../switch/campaigns.ts';
import { importRoster } from '../switch/roster/import.ts';
import { syntheticRoster } from '../switch/roster/synthetic.ts';
import { DEV_IDENTITY_KEY } from '../switch/config.ts';

const rows = Number(process.argv[2] ?? 1_000_000);
const file = path.join(os.tmpdir(), `roster-bench-${process.pid}.csv`);
const TICK_MS = 10; // USER_HZ = 100 on Linux

async function writeFile(): Promise<void> {
  const out = createWriteStream(file);
  for (const chunk of syntheticRoster({ seed: 2026, count: rows }).csv()) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

const tdb = await freshDatabase();

/** CPU ms used so far by the PostgreSQL backends serving the bench database (null where /proc is not there). */
async function pgCpuMs(): Promise<number | null> {
  const { rows: backends } = await tdb.db.raw('SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
  let ms = 0;
  try {
    for (const { pid } of backends) {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ms += (Number(f[11]) + Number(f[12])) * TICK_MS;
    }
  } catch {
    return null;
  }
  return ms;
}
const jsCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

try {
  let t = performance.now();
  await writeFile();
  console.log(`generated ${rows} rows in ${((performance.now() - t) / 1000).toFixed(1)} s (${file}); ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`);
  await createCampaign(tdb.db, { code: 'BENCH' });
  for (const label of ['first import (all new)', 'second import (all unchanged)']) {
    const phases: string[] = [];
    let phase = 'reading';
    const pg0 = await pgCpuMs();
    const js0 = jsCpuMs();
    t = performance.now();
    let since = t;
    const s = await importRoster(tdb.db, 'BENCH', createReadStream(file, { highWaterMark: 1 << 20 }), {
      identityKey: DEV_IDENTITY_KEY,
      onProgress: (p) => {
        if (p.phase === phase) return;
        const now = performance.now();
        phases.push(`${phase} ${((now - since) / 1000).toFixed(1)} s`);
        phase = p.phase;
        since = now;
      },
    });
    const secs = (performance.now() - t) / 1000;
    const js = jsCpuMs() - js0;
    const pg1 = await pgCpuMs();
    const pg = pg0 !== null && pg1 !== null ? pg1 - pg0 : null;
    console.log(
      `${label}: ${s.rows} rows in ${secs.toFixed(2)} s = ${Math.round(s.rows / secs).toLocaleString('en-US')} rows/s ` +
        `(new ${s.new}, updated ${s.updated}, unchanged ${s.unchanged}, rejected ${s.rejected}; ${phases.join(', ')})`,
    );
    const perRow = (ms: number) => `${((ms * 1000) / s.rows).toFixed(1)} µs/row`;
    console.log(
      `  CPU: node ${(js / 1000).toFixed(1)} s (${perRow(js)})` +
        (pg === null ? '' : `, PostgreSQL backend ${(pg / 1000).toFixed(1)} s (${perRow(pg)}); load now ${os.loadavg()[0]!.toFixed(1)}`),
    );
  }
} finally {
  await tdb.drop();
  await rm(file, { force: true });
}
