import fs from 'node:fs';
import pg from 'pg';
import { freshDatabase, freshRedis } from './test/helpers/services.ts';
import { benchCampaign, BENCH_CAMPAIGN } from './bench/lib/campaign.ts';
import { openCampaign } from './switch/ledger/opening.ts';
import { createRedis } from './switch/redis.ts';
import { systemClock } from './switch/clock.ts';
import { silentLogger } from './switch/log.ts';
import { MONEY_PATH_SESSION } from './switch/ledger/pg.ts';
const tdb = await freshDatabase();
const tredis = await freshRedis();
const redis = createRedis(tredis.url, { commandTimeout: 60_000, enableOfflineQueue: true });
const empty = process.argv[2] === 'empty';
if (!empty) {
  await benchCampaign(tdb.db, 50_000);
  await openCampaign({ db: tdb.db, redis, clock: systemClock, logger: silentLogger }, BENCH_CAMPAIGN);
}
const c = new pg.Client({ connectionString: tdb.url });
await c.connect();
await c.query(MONEY_PATH_SESSION);
const src = fs.readFileSync('switch/ledger/journal.ts', 'utf8').replace(/\$\{ON_SEEN_CONFLICT\}/g, `ON CONFLICT (mti_class, msg_key) DO NOTHING`);
const sqls = [...src.matchAll(/`((?:WITH|SELECT|UPDATE|INSERT|DELETE)[^`]*)`/g)].map((m) => m[1]!).filter((s) => !s.includes('${'));
let i = 0;
for (const sql of sqls) {
  const n = Math.max(0, ...[...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  try {
    await c.query(`PREPARE s${i}${''} AS ${sql}`);
    const r = await c.query(`EXPLAIN EXECUTE s${i}(${Array(n).fill('NULL').join(',')})`);
    const plan = r.rows.map((x) => x['QUERY PLAN']).join('\n');
    const bad = plan.split('\n').filter((l) => /Seq Scan|Hash Join|Merge Join|hashed SubPlan|Materialize/.test(l) || (/Index (Only )?Scan|Bitmap Index/.test(l) && false));
    console.log(`--- ${sql.slice(0, 90).replace(/\s+/g, ' ')}\n${plan}\n`);
  } catch (e) { console.log(`--- ${sql.slice(0, 60)}: ${(e as Error).message}`); }
  i++;
}
await c.end(); redis.disconnect(); await tredis.release(); await tdb.drop();
