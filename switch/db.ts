import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'migrations');

export function createDb(databaseUrl: string, pool: { min?: number; max?: number } = {}): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: databaseUrl, statement_timeout: 30_000, connectionTimeoutMillis: 2_000 } as Knex.PgConnectionConfig,
    pool: { min: pool.min ?? 0, max: pool.max ?? 10 },
    migrations: { directory: MIGRATIONS_DIR, loadExtensions: ['.ts'], tableName: 'knex_migrations' },
    // knex would print stack traces of its own; callers report failures in one line.
    log: { warn() {}, error() {}, deprecate() {}, debug() {} },
  });
}

/** Creates the database named in the URL when it does not exist yet (a fresh machine's first `npm run migrate`). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`database name "${name}" must be letters, digits and _`);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 2_000 });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${name}`);
  } catch (e) {
    // Two migrations racing to create it is fine.
    if ((e as { code?: string }).code !== '42P04') throw e;
  } finally {
    await client.end();
  }
}

/** Applies every migration; safe to run again (operations.md: idempotent). */
export async function migrate(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest()) as [number, string[]];
  return applied;
}
