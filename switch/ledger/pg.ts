// PostgreSQL on the money path: a connection from knex's pool used directly (arrays as parameters, one
// round trip per statement), every call bounded by a deadline. A deadline that passes destroys the connection,
// so an unfinished transaction can never commit later, except when COMMIT was already sent: that is the one
// case whose outcome is unknown, reported as InDoubtError for the caller to resolve.
import type { Knex } from 'knex';
import { createHash } from 'node:crypto';
import type pg from 'pg';

export class StoreUnavailable extends Error {
  constructor(what: string, cause?: unknown) {
    super(`${what}: ${cause instanceof Error ? cause.message : String(cause ?? 'unavailable')}`);
  }
}

/** No connection: nothing was sent. */
export class AcquireFailed extends StoreUnavailable {}

/** COMMIT was sent and no answer came back: the transaction may or may not have committed. */
export class InDoubtError extends StoreUnavailable {}

type Conn = pg.Client & { __knex__disposed?: unknown; connection?: { stream?: { destroy(): void } } };

export interface Pg {
  query<R = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<R[]>;
}

function kill(conn: Conn, why: string): void {
  conn.__knex__disposed = why;
  try {
    conn.connection?.stream?.destroy();
  } catch {
    /* already gone */
  }
}

/**
 * Connections whose prepared statements keep one generic plan. Left to choose, PostgreSQL keeps planning the batch
 * statements afresh on every execution (a custom plan for each array length): ~1 ms of CPU per statement, which
 * cost more than the statement itself when batches are small. Their plans do not depend on the values.
 *
 * And never a sequential scan: every lookup of the money path is an index probe by key. Tables analyzed while
 * (nearly) empty, as messages_seen and nhi_cards are when a campaign opens, otherwise get plans that scan them
 * whole once per request, and they grow by thousands of rows a second before autovacuum looks again (measured:
 * approvals fell from ~7,000/s to ~2,200/s after one VACUUM ANALYZE at open). Where a table has no usable index the
 * scan still happens, at a cost the planner calls huge: no JIT, which would then compile it for ~100 ms each time.
 */
const generic = new WeakSet<Conn>();
export const MONEY_PATH_SESSION = `SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off; SET jit = off`;

async function acquire(db: Knex, deadline: number): Promise<Conn> {
  const client = db.client as { acquireConnection(): Promise<Conn>; releaseConnection(c: Conn): Promise<void> };
  // A new connection first takes the session settings (outside any transaction, so they stay).
  const pending = client.acquireConnection().then(async (c) => {
    if (!generic.has(c)) {
      try {
        await c.query(MONEY_PATH_SESSION);
      } catch (e) {
        kill(c, 'session setup failed');
        client.releaseConnection(c).catch(() => {});
        throw e;
      }
      generic.add(c);
    }
    return c;
  });
  const timer = timeout(deadline);
  try {
    return await Promise.race([pending, timer.promise]);
  } catch (e) {
    // A connection that arrives after we gave up goes straight back to the pool.
    pending.then((c) => client.releaseConnection(c)).catch(() => {});
    throw e;
  } finally {
    timer.cancel();
  }
}

function release(db: Knex, conn: Conn): void {
  (db.client as { releaseConnection(c: Conn): Promise<void> }).releaseConnection(conn).catch(() => {});
}

function timeout(deadline: number): { promise: Promise<never>; cancel(): void } {
  let t: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error('deadline passed')), Math.max(0, deadline - Date.now()));
  });
  promise.catch(() => {});
  return { promise, cancel: () => clearTimeout(t) };
}

/** Statements with parameters are prepared once per connection (named by their text): no parse and plan each time. */
export function statementName(sql: string): string {
  let name = names.get(sql);
  if (!name) names.set(sql, (name = 'ledger_' + createHash('sha1').update(sql).digest('hex').slice(0, 16)));
  return name;
}
const names = new Map<string, string>();


function wrap(conn: Conn): Pg {
  return {
    async query<R>(sql: string, values?: unknown[]) {
      const r = values ? await conn.query({ name: statementName(sql), text: sql, values }) : await conn.query(sql);
      return r.rows as R[];
    },
  };
}

/** One connection for `fn`, released after; the whole call ends by `deadline` (ms since the epoch). */
export async function withConnection<T>(db: Knex, what: string, deadline: number, fn: (q: Pg) => Promise<T>): Promise<T> {
  let conn: Conn;
  try {
    conn = await acquire(db, deadline);
  } catch (e) {
    throw new AcquireFailed(what, e);
  }
  const timer = timeout(deadline);
  try {
    return await Promise.race([fn(wrap(conn)), timer.promise]);
  } catch (e) {
    if (serverError(e)) throw e;
    kill(conn, `${what} failed`);
    throw e instanceof StoreUnavailable ? e : new StoreUnavailable(what, e);
  } finally {
    timer.cancel();
    release(db, conn);
  }
}

/**
 * A write that commits by itself (one statement, or statements each complete on its own) on one connection, by
 * `deadline`. An error PostgreSQL reports means that statement did not happen; a lost connection or the deadline
 * means it may have: InDoubtError.
 */
export async function inStatement<T>(db: Knex, what: string, deadline: number, fn: (q: Pg) => Promise<T>): Promise<T> {
  try {
    return await withConnection(db, what, deadline, fn);
  } catch (e) {
    if (serverError(e) || e instanceof AcquireFailed) throw e;
    throw new InDoubtError(what, e);
  }
}

/**
 * `fn` inside BEGIN … COMMIT with statement and lock timeouts, the whole by `deadline`. `fn` may return
 * `{ rollback: true, value }` to undo its work and still return a value.
 */
export async function inTransaction<T>(
  db: Knex,
  what: string,
  deadline: number,
  fn: (q: Pg) => Promise<T | Rollback<T>>,
): Promise<T> {
  let conn: Conn;
  try {
    conn = await acquire(db, deadline);
  } catch (e) {
    throw new StoreUnavailable(what, e);
  }
  const q = wrap(conn);
  let commitSent = false;
  const timer = timeout(deadline);
  const bound = Math.max(1, Math.min(deadline - Date.now(), 30_000));
  const work = (async () => {
    await q.query(`BEGIN; SET LOCAL statement_timeout = ${bound}; SET LOCAL lock_timeout = ${bound}`);
    const result = await fn(q);
    if (result instanceof Rollback) {
      await q.query('ROLLBACK');
      return result.value;
    }
    commitSent = true;
    await q.query('COMMIT');
    return result;
  })();
  try {
    return await Promise.race([work, timer.promise]);
  } catch (e) {
    work.catch(() => {});
    if (serverError(e)) {
      // PostgreSQL answered with an error: nothing committed, and the connection is still good.
      if (!commitSent) await q.query('ROLLBACK').catch(() => kill(conn, `${what} rollback failed`));
      throw e;
    }
    // Destroying the connection aborts whatever did not commit; only a sent COMMIT leaves doubt.
    kill(conn, `${what} failed`);
    if (commitSent) throw new InDoubtError(what, e);
    throw e instanceof StoreUnavailable ? e : new StoreUnavailable(what, e);
  } finally {
    timer.cancel();
    release(db, conn);
  }
}

/** An error PostgreSQL itself reported (it carries a SQLSTATE), as opposed to a lost connection or a timeout. */
export function serverError(e: unknown): e is Error & { code: string } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && /^[0-9A-Z]{5}$/.test((e as unknown as { code: string }).code);
}

export class Rollback<T> {
  constructor(readonly value: T) {}
}
