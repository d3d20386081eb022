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
 * One COPY FROM STDIN of data already at hand: hand it to pg with `client.query(copy)`; `done` resolves to the rows
 * copied, or rejects with the server's error. The data goes out from pg's own callback as soon as the server is
 * ready, so a busy event loop does not hold it up.
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

/**
 * Statements queued on one client, handed to pg one after another: each as soon as the one before it has ended
 * (its promise settles in pg's own callback, and the next goes out in the microtasks right after it, before any
 * other I/O is handled). pg would queue them itself, but warns that queueing a query on a busy client goes away in
 * pg 9. A statement that fails does not stop the ones after it (inside a transaction they fail in turn, as in pg).
 */
export class StatementQueue {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly client: pg.Client) {}

  /** A COPY FROM STDIN of `data` (binary COPY format, whole); resolves to the rows copied. */
  copy(sql: string, data: Buffer[]): Promise<number> {
    return this.next(() => {
      const copy = new CopyIn(sql, data);
      this.client.query(copy as unknown as pg.Submittable);
      return copy.done;
    });
  }

  /** A statement (or several, without parameters); resolves to pg's result(s). */
  query(sql: string): Promise<pg.QueryResult | pg.QueryResult[]> {
    return this.next(() => this.client.query(sql) as unknown as Promise<pg.QueryResult | pg.QueryResult[]>);
  }

  private next<T>(start: () => Promise<T>): Promise<T> {
    const mine = this.tail.then(start);
    this.tail = mine.catch(() => {});
    return mine;
  }
}

const PGCOPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const BYTEA_OID = 17;
/** Days from 1970-01-01 to 2000-01-01, PostgreSQL's date epoch. */
const PG_EPOCH_DAYS = 10_957;
/** Fields up to this size are copied byte by byte. */
const SMALL_COPY_BYTES = 32;

/**
 * The field writers of PostgreSQL's binary COPY format, over a buffer that subclasses make room in.
 * Call `row(n)` with the number of columns, then one field method per column, in the table's column order.
 */
abstract class FieldWriter {
  protected buf: Buffer;
  protected at = 0;

  constructor(bytes: number) {
    this.buf = Buffer.allocUnsafe(bytes);
  }

  /** Makes room for `n` more bytes at `this.at`. */
  protected abstract room(n: number): void;

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
    const buf = this.buf;
    const at = this.at;
    buf.writeInt32BE(8, at);
    // Two 32-bit halves: no BigInt per value. v is a safe integer (|v| < 2^53).
    const hi = Math.floor(v / 4294967296);
    buf.writeInt32BE(hi, at + 4);
    buf.writeUInt32BE(v - hi * 4294967296, at + 8);
    this.at = at + 12;
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
    return this.byteaOf(v, 0, v.length);
  }

  /** A bytea (or, for binary COPY, a text/varchar: its UTF-8 bytes) field of `src[start..start+length]`. */
  byteaOf(src: Buffer, start: number, length: number): this {
    this.room(4 + length);
    const buf = this.buf;
    buf.writeInt32BE(length, this.at);
    const at = this.at + 4;
    // Buffer.copy costs ~150 ns a call whatever the size; a hash's 16 bytes go faster one by one.
    if (length <= SMALL_COPY_BYTES) for (let i = 0; i < length; i++) buf[at + i] = src[start + i]!;
    else src.copy(buf, at, start, start + length);
    this.at = at + length;
    return this;
  }

  /** A date written YYYY-MM-DD (already checked). */
  date(iso: string): this {
    return this.int4(isoDays(iso) - PG_EPOCH_DAYS);
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
        at += 4;
        if (b.length <= SMALL_COPY_BYTES) for (let i = 0; i < b.length; i++) buf[at + i] = b[i]!;
        else b.copy(buf, at);
        at += b.length;
      }
    }
    this.at = at;
    return this;
  }
}

/** Days from 1970-01-01 to a YYYY-MM-DD date (proleptic Gregorian; Howard Hinnant's days_from_civil), without a Date. */
export function isoDays(iso: string): number {
  let y = (iso.charCodeAt(0) - 48) * 1000 + (iso.charCodeAt(1) - 48) * 100 + (iso.charCodeAt(2) - 48) * 10 + (iso.charCodeAt(3) - 48);
  const m = (iso.charCodeAt(5) - 48) * 10 + (iso.charCodeAt(6) - 48);
  const d = (iso.charCodeAt(8) - 48) * 10 + (iso.charCodeAt(9) - 48);
  if (m <= 2) y -= 1;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * Rows in PostgreSQL's binary COPY format, written into a buffer that is handed out (`take`) whenever it fills.
 */
export class BinaryRows extends FieldWriter {
  constructor(private readonly chunkBytes = 1 << 20, private readonly out: (chunk: Buffer) => void) {
    super(chunkBytes);
    PGCOPY_SIGNATURE.copy(this.buf, 0);
    this.buf.writeInt32BE(0, 11); // flags
    this.buf.writeInt32BE(0, 15); // header extension length
    this.at = 19;
  }

  protected room(n: number): void {
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

  /** Bytes already in the format (whole rows). */
  raw(src: Buffer, start: number, end: number): void {
    const n = end - start;
    if (this.at + n > this.buf.length) {
      this.flush();
      if (n > this.buf.length) {
        this.out(Buffer.from(src.subarray(start, end)));
        return;
      }
    }
    src.copy(this.buf, this.at, start, end);
    this.at += n;
  }

  /** The end-of-data marker, then everything out. */
  finish(): void {
    this.room(2);
    this.buf.writeInt16BE(-1, this.at);
    this.at += 2;
    this.flush();
  }
}

/** Rows per SortedRows: its sort keys hold a row's index in 20 bits. */
export const MAX_SORTED_ROWS = 1 << 20;
const TWO_20 = 1 << 20;

/**
 * Rows in the binary COPY format, kept in memory to be written out in the order of a 32-bit key per row (given with
 * `row`); rows with the same key keep their order. Sorting numbers in a Float64Array (key * 2^20 + row index) needs
 * no comparator call per comparison.
 */
export class SortedRows extends FieldWriter {
  private starts = new Int32Array(1024);
  private keys = new Float64Array(1024);
  private n = 0;

  constructor(bytes = 1 << 20) {
    super(bytes);
  }

  get rows(): number {
    return this.n;
  }

  protected room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }

  /** Starts a row; `key` is an unsigned 32-bit number. */
  sortedRow(columns: number, key: number): this {
    if (this.n === MAX_SORTED_ROWS) throw new RangeError(`at most ${MAX_SORTED_ROWS} rows can be sorted at once`);
    if (this.n === this.starts.length) {
      const starts = new Int32Array(this.n * 2);
      starts.set(this.starts);
      this.starts = starts;
      const keys = new Float64Array(this.n * 2);
      keys.set(this.keys);
      this.keys = keys;
    }
    this.starts[this.n] = this.at;
    this.keys[this.n] = key * TWO_20 + this.n;
    this.n++;
    return this.row(columns);
  }

  /** Writes the rows, in key order, to `out`; then starts over empty. */
  writeTo(out: BinaryRows): void {
    const n = this.n;
    const keys = this.keys.subarray(0, n).sort();
    for (let i = 0; i < n; i++) {
      const r = keys[i]! % TWO_20;
      out.raw(this.buf, this.starts[r]!, r + 1 < n ? this.starts[r + 1]! : this.at);
    }
    this.n = 0;
    this.at = 0;
  }
}
