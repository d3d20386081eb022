// COPY ... FROM STDIN over a node-postgres client, without another package: pg runs any object with a `submit`
// method as a query and hands it the protocol messages (CopyInResponse, CommandComplete, ErrorResponse,
// ReadyForQuery); the data goes out as CopyData messages on the same connection.
//
// And a writer of PostgreSQL's binary COPY format, for the few column types the roster stages.
import type pg from 'pg';

/** Bytes handed to the socket before waiting for it to drain. */
const HIGH_WATER_BYTES = 1 << 20;

interface Connection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
  stream: NodeJS.WritableStream & { writableLength?: number; writableNeedDrain?: boolean; once(e: 'drain', f: () => void): unknown };
}

/**
 * One COPY FROM STDIN. Start it with `client.query(copy)`, then `await copy.ready`, `write` the data (awaiting
 * what it returns, if anything), and `end()` (resolves to the rows copied) or `fail(reason)` to give up.
 * A server error rejects `ready` or `end()`/`fail()`; writes after it are dropped (the server ignores them anyway).
 */
export class CopyIn {
  private con: Connection | null = null;
  private error: Error | null = null;
  private rows = 0;
  private readyResolve!: () => void;
  private readyReject!: (e: Error) => void;
  private doneResolve!: (rows: number) => void;
  private doneReject!: (e: Error) => void;
  /** Resolves when the server is ready for data. */
  readonly ready: Promise<void>;
  private readonly done: Promise<number>;

  /** With `data`, all of it is sent as soon as the server is ready, and the COPY ended: no await between. */
  constructor(readonly text: string, private readonly data?: Buffer[]) {
    this.ready = new Promise((res, rej) => {
      this.readyResolve = res;
      this.readyReject = rej;
    });
    this.done = new Promise((res, rej) => {
      this.doneResolve = res;
      this.doneReject = rej;
    });
    // Whoever awaits them sees the error; until then they must not count as unhandled.
    this.ready.catch(() => {});
    this.done.catch(() => {});
  }

  /** Called by pg when the query's turn comes. */
  submit(connection: unknown): void {
    this.con = connection as Connection;
    this.con.query(this.text);
  }

  handleCopyInResponse(): void {
    this.readyResolve();
    if (this.data) {
      for (const chunk of this.data) this.con!.sendCopyFromChunk(chunk);
      this.con!.endCopyFrom();
    }
  }

  handleCommandComplete(msg: { text?: string }): void {
    const m = /^COPY (\d+)/.exec(msg.text ?? '');
    if (m) this.rows = Number(m[1]);
  }

  // pg forgets the query on an error (no ReadyForQuery comes to it then); it holds back the next query until the
  // server is ready again.
  handleError(err: Error): void {
    this.error ??= err;
    this.readyReject(err);
    this.doneReject(err);
  }

  handleReadyForQuery(): void {
    this.doneResolve(this.rows);
  }

  // Not expected for a COPY FROM; pg may call them.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}

  /** Sends a chunk (rows may span chunks). Returns a promise when the socket's buffer is full: await it. */
  write(chunk: Buffer): Promise<void> | undefined {
    if (this.error || !this.con) return undefined;
    this.con.sendCopyFromChunk(chunk);
    const s = this.con.stream;
    if ((s.writableLength ?? 0) < HIGH_WATER_BYTES) return undefined;
    return new Promise((res) => {
      s.once('drain', res);
    });
  }

  /** Ends the data; resolves to the number of rows copied once the server has them. */
  async end(): Promise<number> {
    await this.ready;
    if (!this.error && !this.data) this.con!.endCopyFrom();
    return this.done;
  }

  /** Gives up: the server ends COPY with an error and the connection is usable again (for a ROLLBACK). */
  async fail(reason: string): Promise<void> {
    try {
      await this.ready;
    } catch {
      return; // never got to copy: the server has answered already
    }
    if (!this.error) this.con!.sendCopyFail(reason);
    await this.done.catch(() => {});
  }
}

/** Starts a COPY FROM STDIN on the client; await `ready` before writing. */
export function copyFrom(client: pg.Client, sql: string): CopyIn {
  const copy = new CopyIn(sql);
  client.query(copy as unknown as pg.Submittable);
  return copy;
}

/**
 * Queues a COPY FROM STDIN of data already at hand; resolves to the rows copied. The data goes out from pg's own
 * callback when the server is ready, so a busy event loop does not hold it up, and queries queued after it follow at once.
 */
export function copyAll(client: pg.Client, sql: string, data: Buffer[]): Promise<number> {
  const copy = new CopyIn(sql, data);
  client.query(copy as unknown as pg.Submittable);
  return copy.end();
}

const PGCOPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const BYTEA_OID = 17;
/** Days from 1970-01-01 to 2000-01-01, PostgreSQL's date epoch. */
const PG_EPOCH_DAYS = 10_957;
const DAY_MS = 86_400_000;

/**
 * Rows in PostgreSQL's binary COPY format, written into a buffer that is handed out (`take`) whenever it fills.
 * Call `row(n)` with the number of columns, then one field method per column, in the table's column order.
 */
export class BinaryRows {
  private buf: Buffer;
  private at = 0;

  constructor(private readonly chunkBytes = 1 << 20, private readonly out: (chunk: Buffer) => void) {
    this.buf = Buffer.allocUnsafe(chunkBytes);
    PGCOPY_SIGNATURE.copy(this.buf, 0);
    this.buf.writeInt32BE(0, 11); // flags
    this.buf.writeInt32BE(0, 15); // header extension length
    this.at = 19;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
  }

  /** Hands out what is buffered (a copy: the buffer is reused). */
  flush(): void {
    if (this.at === 0) return;
    this.out(Buffer.from(this.buf.subarray(0, this.at)));
    this.at = 0;
  }

  row(columns: number): this {
    this.room(2);
    this.buf.writeInt16BE(columns, this.at);
    this.at += 2;
    return this;
  }

  int4(v: number): this {
    this.room(8);
    this.buf.writeInt32BE(4, this.at);
    this.buf.writeInt32BE(v, this.at + 4);
    this.at += 8;
    return this;
  }

  int8(v: number): this {
    this.room(12);
    this.buf.writeInt32BE(8, this.at);
    this.buf.writeBigInt64BE(BigInt(v), this.at + 4);
    this.at += 12;
    return this;
  }

  /** The buffer being written: fill a slot that byteaSlot returned. */
  get buffer(): Buffer {
    return this.buf;
  }

  /** A bytea field of `length` bytes for the caller to fill in `buffer` at the offset returned (no Buffer of its own). */
  byteaSlot(length: number): number {
    this.room(4 + length);
    this.buf.writeInt32BE(length, this.at);
    const at = this.at + 4;
    this.at = at + length;
    return at;
  }

  bool(v: boolean): this {
    this.room(5);
    this.buf.writeInt32BE(1, this.at);
    this.buf[this.at + 4] = v ? 1 : 0;
    this.at += 5;
    return this;
  }

  bytea(v: Buffer): this {
    this.room(4 + v.length);
    this.buf.writeInt32BE(v.length, this.at);
    v.copy(this.buf, this.at + 4);
    this.at += 4 + v.length;
    return this;
  }

  /** A date written YYYY-MM-DD (already checked). */
  date(iso: string): this {
    const ms = Date.UTC(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)) - 1, Number(iso.slice(8, 10)));
    return this.int4(ms / DAY_MS - PG_EPOCH_DAYS);
  }

  /** A one-dimensional bytea[] without NULLs ('{}' when empty). */
  byteaArray(items: Buffer[]): this {
    const dims = items.length === 0 ? 0 : 1;
    let len = 12 + dims * 8;
    for (const b of items) len += 4 + b.length;
    this.room(4 + len);
    const buf = this.buf;
    let at = this.at;
    buf.writeInt32BE(len, at);
    buf.writeInt32BE(dims, at + 4);
    buf.writeInt32BE(0, at + 8); // no NULLs
    buf.writeInt32BE(BYTEA_OID, at + 12);
    at += 16;
    if (dims) {
      buf.writeInt32BE(items.length, at);
      buf.writeInt32BE(1, at + 4); // lower bound
      at += 8;
      for (const b of items) {
        buf.writeInt32BE(b.length, at);
        b.copy(buf, at + 4);
        at += 4 + b.length;
      }
    }
    this.at = at;
    return this;
  }

  /** The end-of-data marker, then everything out. */
  finish(): void {
    this.room(2);
    this.buf.writeInt16BE(-1, this.at);
    this.at += 2;
    this.flush();
  }
}
