// Real PostgreSQL and Redis for tests: each test file gets a database of its own and a Redis logical DB of its own,
// and cleans both up. Nothing here is mocked.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { createDb, migrate } from '../../switch/db.ts';

export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
export const START_HINT = 'start them with `docker compose up -d postgres redis`';

/** One line that says what is missing and how to start it; thrown before any test runs. */
export async function checkServices(): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (e) {
    throw new Error(`PostgreSQL is not reachable at ${ADMIN_DATABASE_URL} (${(e as Error).message}): ${START_HINT}`);
  } finally {
    await client.end().catch(() => {});
  }
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    throw new Error(`Redis is not reachable at ${TEST_REDIS_URL} (${(e as Error).message}): ${START_HINT}`);
  } finally {
    redis.disconnect();
  }
}

export interface TestDatabase {
  url: string;
  name: string;
  db: Knex;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = '/' + name;
  return u.toString();
}

/** A fresh, migrated database for one test file. */
export async function freshDatabase(migrated = true): Promise<TestDatabase> {
  await checkServices();
  const name = `ent_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = withDatabase(ADMIN_DATABASE_URL, name);
  const db = createDb(url);
  if (migrated) await migrate(db);
  return {
    url,
    name,
    db,
    async drop() {
      await db.destroy();
      const a = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

export interface TestRedis {
  url: string;
  index: number;
  redis: Redis;
  release(): Promise<void>;
}

const CLAIM_TTL_S = 30 * 60;

/** Claims a free Redis logical DB (1..15) for this test file, flushed, and releases it after. */
export async function freshRedis(): Promise<TestRedis> {
  await checkServices();
  const control = new Redis(TEST_REDIS_URL + '/0');
  try {
    for (let attempt = 0; attempt < 200; attempt++) {
      for (let index = 1; index <= 15; index++) {
        const token = `${process.pid}:${randomBytes(4).toString('hex')}`;
        const ok = await control.set(`test:redis-db-claim:${index}`, token, 'EX', CLAIM_TTL_S, 'NX');
        if (ok !== 'OK') continue;
        const url = `${TEST_REDIS_URL}/${index}`;
        const redis = new Redis(url);
        await redis.flushdb();
        return {
          url,
          index,
          redis,
          async release() {
            await redis.flushdb().catch(() => {});
            redis.disconnect();
            const c = new Redis(TEST_REDIS_URL + '/0');
            // Release only our own claim.
            await c.eval(
              `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
              1, `test:redis-db-claim:${index}`, token,
            );
            c.disconnect();
          },
        };
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error('no free Redis logical DB (1..15) for this test file after 50 s');
  } finally {
    control.disconnect();
  }
}
