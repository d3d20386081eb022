// Roster import throughput: writes a synthetic roster file (1,000,000 rows by default), imports it into a fresh
// database, imports it again (every row unchanged), and prints rows/s for both.
//   npx tsx bench/roster-import.ts [rows]
import { createReadStream, createWriteStream } from 'node:fs';
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

async function writeFile(): Promise<void> {
  const out = createWriteStream(file);
  for (const chunk of syntheticRoster({ seed: 2026, count: rows }).csv()) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

const tdb = await freshDatabase();
try {
  let t = performance.now();
  await writeFile();
  console.log(`generated ${rows} rows in ${((performance.now() - t) / 1000).toFixed(1)} s (${file})`);
  await createCampaign(tdb.db, { code: 'BENCH' });
  for (const label of ['first import (all new)', 'second import (all unchanged)']) {
    t = performance.now();
    const phases: string[] = [];
    let phase = 'reading';
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
    console.log(
      `${label}: ${s.rows} rows in ${secs.toFixed(2)} s = ${Math.round(s.rows / secs).toLocaleString('en-US')} rows/s ` +
        `(new ${s.new}, updated ${s.updated}, unchanged ${s.unchanged}, rejected ${s.rejected}; ${phases.join(', ')})`,
    );
  }
} finally {
  await tdb.drop();
  await rm(file, { force: true });
}
