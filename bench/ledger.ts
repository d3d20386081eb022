// The ledger alone, in process (no TCP, no codec): what the money path's stores can do on this machine.
// Prints the time to open a campaign of --people entitlements (payout rows + Redis load), Redis bytes per
// entitlement (MEMORY USAGE over a sample of buckets, and the used_memory delta), the time to rebuild Redis from
// PostgreSQL after FLUSHDB, and durable approvals/s through the group commit with --concurrency requests in flight.
//   node --import tsx bench/ledger.ts [--people 1000000] [--concurrency 400] [--duration-s 10]
// Uses its own fresh database and Redis logical DB, and drops them after.
import { performance } from 'node:perf_hooks';
import { freshDatabase, freshRedis } from '../test/helpers/services.ts';
import { createRedis } from '../switch/redis.ts';
import { systemClock } from '../switch/clock.ts';
import { silentLogger } from '../switch/log.ts';
import { campaignKey } from '../switch/roster/hashing.ts';
import { buildTlv } from '../switch/iso8583/de48.ts';
import { encode } from '../switch/iso8583/codec.ts';
import type { IsoMessage } from '../switch/iso8583/message.ts';
import { createLedger } from '../switch/ledger/index.ts';
import { openCampaign } from '../switch/ledger/opening.ts';
import { LEDGER_LIMITS } from '../switch/ledger/limits.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const PEOPLE = arg('people', 1_000_000);
const CONCURRENCY = arg('concurrency', 400);
const DURATION_MS = arg('duration-s', 10) * 1000;
const SAMPLE_BUCKETS = 500;
const IDENTITY_KEY = 'bench-identity-key';
const CODE = 'LEDGERBENCH';
const BANK = { code: '004', name: 'Bench', macKey: null, active: true };
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const tdb = await freshDatabase();
const tredis = await freshRedis();
const redis = createRedis(tredis.url, { commandTimeout: 60_000, enableOfflineQueue: true });
try {
  const db = tdb.db;
  await db.raw('CREATE EXTENSION IF NOT EXISTS pgcrypto');
  await db('banks').insert({ code: '004', name: 'Bench', active: true });
  await db('campaigns').insert({ code: CODE, name: CODE, amount_minor: 600_000 });
  const key = campaignKey(IDENTITY_KEY, CODE);
  let t = performance.now();
  // Person i: NHI lpad(i, 12), ID "A1" + lpad(i, 8), hashed as the roster import does (HMAC-SHA256 under the campaign key, first 16 bytes).
  await db.transaction(async (trx) => {
    await trx.raw('SET LOCAL statement_timeout = 0');
    await trx.raw(
      `INSERT INTO beneficiaries (campaign_code, id_hash, nhi_hash, birth_date, amount_minor)
       SELECT ?, substr(hmac(convert_to('id:A1' || lpad(i::text, 8, '0'), 'UTF8'), ?, 'sha256'), 1, 16),
              substr(hmac(convert_to('nhi:' || lpad(i::text, 12, '0'), 'UTF8'), ?, 'sha256'), 1, 16), date '1980-01-01', 600000
         FROM generate_series(1, ?) i ORDER BY i`,
      [CODE, key, key, PEOPLE],
    );
  });
  console.log(`roster of ${fmt(PEOPLE)} inserted by SQL in ${((performance.now() - t) / 1000).toFixed(1)} s (setup, not measured)`);

  const memBefore = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  t = performance.now();
  const opened = await openCampaign({ db, redis, clock: systemClock, logger: silentLogger }, CODE);
  console.log(`campaign open (payout rows + Redis load): ${((performance.now() - t) / 1000).toFixed(1)} s; Redis load alone ${(opened.ms / 1000).toFixed(1)} s`);
  const memAfter = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  let sampled = 0;
  let fields = 0;
  for (let i = 0; i < SAMPLE_BUCKETS; i++) {
    const k = await redis.randomkey();
    if (!k?.startsWith(`e:{${CODE}:`)) continue;
    sampled += Number(await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'));
    fields += (await redis.hlen(k)) - 1;
  }
  console.log(
    `Redis: ${(sampled / fields).toFixed(1)} bytes per entitlement (MEMORY USAGE over ${fmt(fields)} sampled), ` +
      `${((memAfter - memBefore) / opened.entitlements).toFixed(1)} (used_memory delta), buckets of ${LEDGER_LIMITS.BUCKET_ENTRIES}`,
  );

  await redis.flushdb();
  const ledger = createLedger({ db, redis, redisUrl: tredis.url, clock: systemClock, identityKey: IDENTITY_KEY, logger: silentLogger, jobs: false });
  t = performance.now();
  const rebuilt = await ledger.rebuild(CODE);
  console.log(`rebuild after FLUSHDB: ${((performance.now() - t) / 1000).toFixed(1)} s for ${fmt(rebuilt!.entitlements)} entitlements`);
  await ledger.start();

  let next = 0;
  const latencies: number[] = [];
  const answers = new Map<string, number>();
  const request = (i: number): IsoMessage => {
    const stan = String(i % 1_000_000).padStart(6, '0');
    return {
      mti: '0200',
      fields: {
        3: '010000', 4: '000000600000', 7: '1203081530', 11: stan, 12: '161530', 13: '1203', 32: '004',
        37: `RRN${String(i).padStart(9, '0')}`, 41: `T${String(Math.floor(i / 1_000_000)).padStart(7, '0')}`,
        48: buildTlv([['NH', String(i).padStart(12, '0')], ['ID', `A1${String(i).padStart(8, '0')}`]]), 49: '901',
      },
    };
  };
  const end = performance.now() + DURATION_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end && next < PEOPLE) {
        const req = request(++next);
        const t0 = performance.now();
        const res = await ledger.handlers['0200'](req, { bank: BANK, body: encode(req) });
        latencies.push(performance.now() - t0);
        answers.set(res.fields[39]!, (answers.get(res.fields[39]!) ?? 0) + 1);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(1);
  const approved = answers.get('00') ?? 0;
  console.log(
    `durable approvals (group commit, ${CONCURRENCY} in flight, in process): ${fmt(approved / seconds)}/s; ` +
      `latency p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${latencies[latencies.length - 1]!.toFixed(1)} ms; answers ${JSON.stringify(Object.fromEntries(answers))}`,
  );
  const [{ n }] = (await db.raw(`SELECT count(*)::int AS n FROM withdrawals`)).rows;
  if (n !== approved) throw new Error(`PostgreSQL holds ${n} withdrawals, ${approved} approvals were seen`);
  await ledger.stop();
} finally {
  redis.disconnect();
  await tredis.release();
  await tdb.drop();
}
