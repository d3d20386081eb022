// The benchmarks' campaign BENCH: a synthetic roster written to a CSV file and imported as an operator would.
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { addBank } from '../../switch/banks.ts';
import { createCampaign } from '../../switch/campaigns.ts';
import { DEV_IDENTITY_KEY } from '../../switch/config.ts';
import { importRoster } from '../../switch/roster/import.ts';
import { syntheticRoster, type SyntheticRoster } from '../../switch/roster/synthetic.ts';

export const BENCH_CAMPAIGN = 'BENCH';

/** Bank 004 and the draft campaign BENCH with a roster of `count` people, imported from a CSV file; the import timed. */
export async function benchCampaign(db: Knex, count: number): Promise<{ roster: SyntheticRoster; rows: number; rejected: number; importS: number }> {
  const roster = syntheticRoster({ seed: 8583, count, today: new Date().toISOString().slice(0, 10) });
  const file = path.join(os.tmpdir(), `bench-roster-${process.pid}.csv`);
  try {
    const out = createWriteStream(file);
    for (const chunk of roster.csv()) if (!out.write(chunk)) await once(out, 'drain');
    out.end();
    await once(out, 'finish');
    await addBank(db, '004', 'Bench Bank');
    await createCampaign(db, { code: BENCH_CAMPAIGN });
    const t = performance.now();
    const imported = await importRoster(db, BENCH_CAMPAIGN, createReadStream(file, { highWaterMark: 1 << 20 }), { identityKey: DEV_IDENTITY_KEY });
    return { roster, rows: imported.rows, rejected: imported.rejected, importS: (performance.now() - t) / 1000 };
  } finally {
    await rm(file, { force: true });
  }
}

/** VACUUM ANALYZE and CHECKPOINT: what a bulk load or a phase left behind does not land in the next measurement. */
export async function settle(db: Knex): Promise<string> {
  const started = performance.now();
  await db.raw('VACUUM ANALYZE');
  await db.raw('CHECKPOINT');
  return `${((performance.now() - started) / 1000).toFixed(1)} s`;
}
