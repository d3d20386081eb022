// COPY ... FROM STDIN over a node-postgres client, without another package: pg runs any object with a `submit`
// method as a query and hands it the protocol messages (CopyInResponse, CommandComplete, ErrorResponse,
// ReadyForQuery); the data goes out as CopyData messages on the same connection.
//
// And a writer of PostgreSQL's binary COPY format, for the few column types the roster stages.
import type pg from 'pg';

interface Connection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

/**
 * One COPY FROM STDIN of data already at hand: queue it with `client.query(copy)`; `done` resolves to the rows
 * copied, or rejects with the server's error. The data goes out from pg's own callback as soon as the server is
 * ready, so a busy event loop does not hold it up, and a query queued after it follows at once.
 */
class CopyIn {
  private con: Connection | null = null;
  private rows = 0;
  private doneResolve!: (rows: number) => void;
  private doneReject!: (e: Error) => void;
  readonly done: Promise<number>;

  constructor(readonly text: string, private readonly data: Buffer[]) {
    this.done = new Promise((res, rej) => {
      this.doneResolve = res;
      this.doneReject = rej;
    });
    this.done.catch(() => {}); // whoever awaits it sees the error; until then it must not count as unhandled
  }

  /** Called by pg when the query's turn comes. */
  submit(connection: unknown): void {
    this.con = connection as Connection;
    this.con.query(this.text);
  }

  handleCopyInResponse(): void {
    for (const chunk of this.data) this.con!.sendCopyFromChunk(chunk);
    this.con!.endCopyFrom();
  }

  handleCommandComplete(msg: { text?: string }): void {
    const m = /^COPY (\d+)/.exec(msg.text ?? '');
    if (m) this.rows = Number(m[1]);
  }

  // pg forgets the query on an error (no ReadyForQuery comes to it then); it holds back the next query until the
  // server is ready again.
  handleError(err: Error): void {
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
}

/** Queues a COPY FROM STDIN of `data` (binary COPY format, whole) on the client; resolves to the rows copied. */
export function copyAll(client: pg.Client, sql: string, data: Buffer[]): Promise<number> {
  const copy = new CopyIn(sql, data);
  client.query(copy as unknown as pg.Submittable);
  return copy.done;
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
