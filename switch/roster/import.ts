// The roster import (operations.md, "Roster file"): a CSV stream in, keyed hashes out, in one transaction.
//
// Rows are checked and hashed in JavaScript as they stream in (the clear values go no further), and staged with COPY
// (binary) in a temporary table, a chunk at a time — or, into a campaign that has no roster yet, copied straight into
// the roster; while PostgreSQL applies a chunk (switch/roster/writes.ts), the next one is read and hashed, so the two
// work at once. Memory stays bounded whatever the file size: a chunk, and a
// fixed-size filter of the keys seen so far.
//
// After the transaction commits, `onChanged` receives — in batches — the ids of the beneficiaries the import inserted
// or changed (new card, birth date, guardians or amount), so a copy of the roster (the ledger's Redis) can refresh just
// those. The same ids can be read again later with changedBeneficiaryIds(db, importId).
import type { Knex } from 'knex';
import type pg from 'pg';
import { hashIdentifier, hashIdentifierInto, IDENTIFIER_HASH_BYTES, preparedKey } from './hashing.ts';
import { BinaryRows, SortedRows, StatementQueue, MAX_SORTED_ROWS } from './copy.ts';
import { readLines, splitCsvLine, MAX_LINE_CHARS } from './csv.ts';
import { checkRow, parseHeader, taipeiDate, RosterFileError, type Header } from './rows.ts';
import { SeenFilter, SEEN_FILTER_BYTES } from './seen.ts';
import {
  chunkSql, heldSql, rejectReason, CHUNK_COLUMNS, CHUNK_COPY_SQL, FRESH_COLUMNS, FRESH_COPY_SQL, FRESH_SQL, HELD_COPY_SQL,
  KEYS_COLUMNS, KEYS_COPY_SQL, LAST_ID_SQL, OUTCOME_COLUMNS, REJECTS_COUNT_SQL, REJECTS_SQL, STAGE_SQL, type Literals, type Outcome,
} from './writes.ts';
import { CampaignError, campaignHashKey, requireCampaign, twdToMinor, type Campaign } from '../campaigns.ts';
import { systemClock, type Clock } from '../clock.ts';
import { refreshStatistics, ROSTER_TABLES } from '../ledger/statistics.ts';

export { RosterFileError } from './rows.ts';

/** Rows between two progress reports while reading. */
export const IMPORT_BATCH_ROWS = 10_000;
/**
 * Rows per chunk. Larger chunks insert in longer sorted runs (fewer index pages touched twice); smaller ones start
 * PostgreSQL sooner and leave less for it to do after the last row is read.
 */
export const IMPORT_CHUNK_ROWS = 100_000;
/** The first chunk: PostgreSQL starts this soon; each next chunk doubles, up to IMPORT_CHUNK_ROWS. */
const FIRST_CHUNK_ROWS = 10_000;
/**
 * Chunks queued in PostgreSQL at most while the next is read: with two, PostgreSQL (the slower side) finds the next
 * chunk there when it ends one, even when JavaScript was held up by a neighbour on the CPU.
 */
const MAX_CHUNKS_QUEUED = 2;
/** Rows checked between two turns of the event loop: PostgreSQL's answers are taken up within a few milliseconds. */
const YIELD_ROWS = 2_000;
/** Bytes of staged rows per COPY message. */
const COPY_CHUNK_BYTES = 256 * 1024;
/** A bigger file is refused (Taiwan has about 23.4 million people). */
export const MAX_ROSTER_ROWS = 50_000_000;
/** Rejections kept with their reasons (all are counted). */
export const MAX_REJECTIONS_KEPT = 1_000;
/** The import's set-based statements run over large sets: they get longer than the usual statement timeout. */
export const IMPORT_STATEMENT_TIMEOUT_MS = 30 * 60_000;
/** Ids per onChanged call. */
export const CHANGED_BATCH_IDS = 10_000;

export interface Rejection {
  line: number;
  reason: string;
}

export interface ImportSummary {
  importId: number;
  campaign: string;
  /** Data rows read (blank lines are not rows). */
  rows: number;
  accepted: number;
  new: number;
  updated: number;
  unchanged: number;
  rejected: number;
  /** The first MAX_REJECTIONS_KEPT rejections, by line. */
  rejections: Rejection[];
}

export interface ImportProgress {
  phase: 'reading' | 'checking' | 'writing' | 'done';
  rows: number;
  bytes: number;
}

export interface ImportOptions {
  /** IDENTITY_KEY: the campaign's hashing key is derived from it. */
  identityKey: string;
  /** Decides "today" for the birth-date rule. */
  clock?: Clock;
  onProgress?: (p: ImportProgress) => void;
  /** After commit, the ids of the beneficiaries inserted or changed, in batches of at most CHANGED_BATCH_IDS. */
  onChanged?: (campaign: Campaign, beneficiaryIds: number[]) => Promise<void> | void;
  maxRejectionsKept?: number;
  /** IMPORT_CHUNK_ROWS; smaller for tests (the outcome is the same). */
  chunkRows?: number;
  /** SEEN_FILTER_BYTES; smaller for tests (more rows go through the exact check; the outcome is the same). */
  seenFilterBytes?: number;
}

/**
 * Loads or updates a campaign's roster from a CSV stream, in one transaction. Nothing is loaded when it throws:
 * CampaignError for an unknown or purged campaign, RosterFileError for a file unusable as a whole (no or bad header,
 * too many rows). Rows that break a rule are counted and reported in the summary; the others load.
 */
export async function importRoster(
  db: Knex,
  campaignCode: string,
  input: AsyncIterable<Buffer | string>,
  opts: ImportOptions,
): Promise<ImportSummary> {
  const keep = opts.maxRejectionsKept ?? MAX_REJECTIONS_KEPT;
  const chunkRows = Math.min(opts.chunkRows ?? IMPORT_CHUNK_ROWS, MAX_SORTED_ROWS);
  const today = taipeiDate((opts.clock ?? systemClock).now());
  const campaign0 = await requireCampaign(db, campaignCode);
  const key = preparedKey(campaignHashKey(opts.identityKey, campaign0.code));

  const conn = (await db.client.acquireConnection()) as pg.Client;
  let summary: ImportSummary;
  let campaign: Campaign;
  try {
    await conn.query('BEGIN');
    // Chunks' statements may be queued on the connection when reading fails: they must fail or finish before the ROLLBACK.
    const inflight: Promise<void>[] = [];
    // While chunks are in flight, every statement of the connection goes through this queue, in order.
    const queue = new StatementQueue(conn);
    /** Waits until fewer than `n` chunks are queued in PostgreSQL (rethrowing what failed). */
    const queuedBelow = async (n: number) => {
      while (inflight.length >= n) await inflight.shift();
    };
    try {
      await conn.query(`SET LOCAL statement_timeout = ${IMPORT_STATEMENT_TIMEOUT_MS}`);
      await conn.query(`SET LOCAL work_mem = '256MB'`);
      // Each chunk's statements are planned anew, and their estimated cost is high enough for PostgreSQL to compile
      // them (JIT): measured 0.4 s a statement, several times the work itself. Nothing here runs long enough to repay it.
      await conn.query(`SET LOCAL jit = off`);
      // Holds off a concurrent purge, open or close of this campaign until the import is in; one import at a time.
      const st = await conn.query('SELECT state FROM campaigns WHERE code = $1 FOR SHARE', [campaign0.code]);
      await conn.query(`SELECT pg_advisory_xact_lock(hashtext('roster-import:' || $1::text))`, [campaign0.code]);
      campaign = { ...campaign0, state: st.rows[0].state };
      if (campaign.state === 'purged') {
        throw new CampaignError(`campaign ${campaign.code} is purged: its roster can no longer be changed`);
      }
      const importId = Number(
        (await conn.query('INSERT INTO roster_imports (campaign_code) VALUES ($1) RETURNING id', [campaign.code])).rows[0].id,
      );
      const fresh: boolean = (await conn.query(FRESH_SQL, [campaign.code])).rows[0].fresh;
      // A first import's rows are those of the campaign with ids in (afterId, its last id] (writes.ts, FRESH_COPY_SQL).
      const afterId: string | null = fresh ? (await conn.query(LAST_ID_SQL)).rows[0].id : null;
      await conn.query(STAGE_SQL);
      const literals: Literals = { campaign: conn.escapeLiteral(campaign.code), importId: String(importId) };

      // ---- reading: check, hash, stage, and apply chunk by chunk ----
      const counts: Record<Outcome, number> = { new: 0, updated: 0, unchanged: 0, 'other-person': 0, superseded: 0 };
      const addCounts = (results: pg.QueryResult | pg.QueryResult[]) => {
        for (const r of Array.isArray(results) ? results : [results]) {
          if (r.fields?.map((f) => f.name).join() !== OUTCOME_COLUMNS.join()) continue;
          for (const { outcome, n } of r.rows) counts[outcome as Outcome] += n;
        }
      };
      const rejections: Rejection[] = [];
      let rejected = 0;
      let rows = 0;
      let bytes = 0;
      let held = 0;
      let header: Header | null = null;
      const seen = new SeenFilter(opts.seenFilterBytes ?? SEEN_FILTER_BYTES);
      let staged = 0;
      let inChunk = 0;
      let chunkLimit = Math.min(chunkRows, FIRST_CHUNK_ROWS);
      const hashes = Buffer.allocUnsafe(2 * IDENTIFIER_HASH_BYTES); // the row's id_no's, then its NHI number's
      // Into an existing roster: the chunk is staged (roster_chunk) and applied by SQL (writes.ts).
      let data: Buffer[] = [];
      let out = new BinaryRows(COPY_CHUNK_BYTES, (b) => data.push(b));
      // Into an empty campaign: the rows straight into the roster, their keys and the held rows aside (writes.ts).
      const sorted = new SortedRows();
      let keyData: Buffer[] = [];
      let keysOut = new BinaryRows(COPY_CHUNK_BYTES, (b) => keyData.push(b));
      let heldData: Buffer[] = [];
      let heldOut = new BinaryRows(COPY_CHUNK_BYTES, (b) => heldData.push(b));
      let heldInChunk = 0;
      const campaignBytes = Buffer.from(campaign.code, 'utf8');
      const sendChunk = async () => {
        inChunk = 0;
        chunkLimit = Math.min(chunkRows, chunkLimit * 2);
        if (!fresh) {
          out.finish();
          const chunk = data;
          data = [];
          out = new BinaryRows(COPY_CHUNK_BYTES, (b) => data.push(b));
          await queuedBelow(MAX_CHUNKS_QUEUED); // chunks in PostgreSQL while the next is read
          // Queued together: the statements go out as soon as the COPY is done, whatever the reading is doing then.
          const copied = queue.copy(CHUNK_COPY_SQL, chunk);
          const applied = queue.query(chunkSql(literals, fresh));
          inflight.push(Promise.all([copied, applied]).then(([, results]) => addCounts(results)));
        } else {
          keysOut.finish();
          const keys = keyData;
          keyData = [];
          keysOut = new BinaryRows(COPY_CHUNK_BYTES, (b) => keyData.push(b));
          heldOut.finish();
          const heldRows = heldInChunk > 0 ? heldData : null;
          heldData = [];
          heldOut = new BinaryRows(COPY_CHUNK_BYTES, (b) => heldData.push(b));
          heldInChunk = 0;
          const rowData: Buffer[] = [];
          const rowsOut = new BinaryRows(COPY_CHUNK_BYTES, (b) => rowData.push(b));
          sorted.writeTo(rowsOut);
          rowsOut.finish();
          await queuedBelow(MAX_CHUNKS_QUEUED); // chunks in PostgreSQL while the next is read
          const copies = [queue.copy(FRESH_COPY_SQL, rowData), queue.copy(KEYS_COPY_SQL, keys)];
          if (heldRows) copies.push(queue.copy(HELD_COPY_SQL, heldRows));
          inflight.push(Promise.all(copies).then(([inserted]) => {
            counts.new += inserted!;
          }));
        }
        inflight[inflight.length - 1]!.catch(() => {}); // awaited before a later chunk or at the end
      };
      const reject = (line: number, reason: string) => {
        rejected++;
        if (rejections.length < keep) rejections.push({ line, reason });
      };
      const counted = (async function* () {
        for await (const chunk of input) {
          bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
          yield chunk;
        }
      })();

      let sinceYield = 0;
      for await (const lines of readLines(counted)) {
        for (const { no, text } of lines) {
          if (header === null) {
            if (text === null) throw new RosterFileError(`line 1: the header is longer than ${MAX_LINE_CHARS} characters`);
            if (text.trim() === '') throw new RosterFileError('line 1: the file must start with a header line');
            header = parseHeader(splitCsvLine(text));
            continue;
          }
          if (text !== null && text.trim() === '') continue;
          if (++rows > MAX_ROSTER_ROWS) throw new RosterFileError(`the file has more than ${MAX_ROSTER_ROWS} rows`);
          if (++sinceYield === YIELD_ROWS) {
            sinceYield = 0;
            await new Promise(setImmediate);
          }
          if (text === null) {
            reject(no, 'line is too long');
            continue;
          }
          const fields = splitCsvLine(text);
          if (!fields) {
            reject(no, 'quoting is broken');
            continue;
          }
          const r = checkRow(fields, header, today);
          if (!r.ok) {
            reject(no, r.reason);
            continue;
          }
          const row = r.row;
          hashIdentifierInto(key, 'id', row.id, hashes, 0);
          hashIdentifierInto(key, 'nhi', row.nhi, hashes, IDENTIFIER_HASH_BYTES);
          const idSeen = seen.add(hashes, 0);
          const nhiSeen = seen.add(hashes, IDENTIFIER_HASH_BYTES);
          const isHeld = idSeen || nhiSeen;
          const amount = row.amountTwd === null ? campaign.amountMinor : twdToMinor(row.amountTwd);
          const guardians = row.guardians.length === 0 ? NO_HASHES : guardianHashes(key, row.guardians);
          if (isHeld) held++;
          if (!fresh) {
            out.row(CHUNK_COLUMNS).int4(no).byteaOf(hashes, 0, IDENTIFIER_HASH_BYTES)
              .byteaOf(hashes, IDENTIFIER_HASH_BYTES, IDENTIFIER_HASH_BYTES).date(row.birthDate).int8(amount).byteaArray(guardians)
              .bool(isHeld);
          } else {
            keysOut.row(KEYS_COLUMNS).int4(no).byteaOf(hashes, 0, IDENTIFIER_HASH_BYTES)
              .byteaOf(hashes, IDENTIFIER_HASH_BYTES, IDENTIFIER_HASH_BYTES);
            if (isHeld) {
              heldInChunk++;
              heldOut.row(CHUNK_COLUMNS).int4(no).byteaOf(hashes, 0, IDENTIFIER_HASH_BYTES)
                .byteaOf(hashes, IDENTIFIER_HASH_BYTES, IDENTIFIER_HASH_BYTES).date(row.birthDate).int8(amount).byteaArray(guardians)
                .bool(true);
            } else {
              // In id_hash order (writes.ts, insertNew): the words compare as the bytes do.
              sorted.sortedRow(FRESH_COLUMNS, hashes.readUInt32BE(0)).byteaOf(campaignBytes, 0, campaignBytes.length)
                .byteaOf(hashes, 0, IDENTIFIER_HASH_BYTES).byteaOf(hashes, IDENTIFIER_HASH_BYTES, IDENTIFIER_HASH_BYTES)
                .date(row.birthDate).int8(amount).byteaArray(guardians);
            }
          }
          if (++staged % IMPORT_BATCH_ROWS === 0) opts.onProgress?.({ phase: 'reading', rows, bytes });
          if (++inChunk === chunkLimit) await sendChunk();
        }
      }
      if (header === null) throw new RosterFileError('the file is empty: it must start with a header line');

      // ---- writing: the last chunk ----
      opts.onProgress?.({ phase: 'writing', rows, bytes });
      if (inChunk > 0) await sendChunk();
      await queuedBelow(1);

      // ---- checking: the held rows against the keys of every staged row; those that repeat none are applied ----
      opts.onProgress?.({ phase: 'checking', rows, bytes });
      if (held > 0) addCounts((await conn.query(heldSql(literals, fresh))) as unknown as pg.QueryResult[]);

      const sqlRejected = Number((await conn.query(REJECTS_COUNT_SQL)).rows[0].n);
      const sqlRejections = (await conn.query(REJECTS_SQL, [keep])).rows.map((r) => ({
        line: r.line as number,
        reason: rejectReason(r.code, r.first_line),
      }));
      rejected += sqlRejected;
      const merged = [...rejections, ...sqlRejections].sort((a, b) => a.line - b.line).slice(0, keep);

      const { new: created, updated, unchanged } = counts;
      const lastId: string | null = fresh ? (await conn.query(LAST_ID_SQL)).rows[0].id : null;
      await conn.query(
        `UPDATE roster_imports SET finished_at = clock_timestamp(), rows_read = $2, accepted_new = $3, accepted_updated = $4,
                accepted_unchanged = $5, rejected = $6, first_import_after_id = $7, first_import_last_id = $8 WHERE id = $1`,
        [importId, rows, created, updated, unchanged, rejected, afterId, lastId],
      );
      // A durable commit (synchronous_commit stays on): the summary says "loaded" only once the rows are on disk. It waits
      // for one flush of what the WAL writer has not written yet: milliseconds against the seconds of a large import.
      await conn.query('COMMIT');
      summary = {
        importId,
        campaign: campaign.code,
        rows,
        accepted: created + updated + unchanged,
        new: created,
        updated,
        unchanged,
        rejected,
        rejections: merged,
      };
      opts.onProgress?.({ phase: 'done', rows, bytes });
    } catch (e) {
      await Promise.allSettled(inflight);
      await conn.query('ROLLBACK').catch(() => {});
      throw e;
    }
  } finally {
    await db.client.releaseConnection(conn);
  }

  // The planner's view of a roster that has doubled follows it at once (ledger/statistics.ts). The import is in
  // either way: a failure here leaves it to the switches' next look.
  if (summary.new + summary.updated > 0) await refreshStatistics(db, Date.now() + IMPORT_STATEMENT_TIMEOUT_MS, ROSTER_TABLES).catch(() => {});
  if (opts.onChanged && summary.new + summary.updated > 0) {
    try {
      for await (const ids of changedBeneficiaryIds(db, summary.importId)) await opts.onChanged(campaign, ids);
    } catch (e) {
      throw new ChangeHandlerError(summary, e as Error);
    }
  }
  return summary;
}

const NO_HASHES: Buffer[] = [];

/** The guardians' hashes, sorted: the same guardians in another order are the same roster entry. */
function guardianHashes(key: ReturnType<typeof preparedKey>, ids: string[]): Buffer[] {
  const out: Buffer[] = [];
  for (const g of ids) out.push(hashIdentifier(key, 'id', g));
  return out.length > 1 ? out.sort(Buffer.compare) : out;
}

/** The import committed, but onChanged failed: the summary is still there to report. */
export class ChangeHandlerError extends Error {
  constructor(readonly summary: ImportSummary, override readonly cause: Error) {
    super(`roster import ${summary.importId} committed, but passing its changes on failed: ${cause.message.split('\n')[0]}`);
  }
}

/** The ids of the beneficiaries an import inserted or changed (and no later import touched since), in batches. */
export async function* changedBeneficiaryIds(db: Knex, importId: number, batchIds = CHANGED_BATCH_IDS): AsyncGenerator<number[]> {
  const imp: { campaign_code: string; first_import_after_id: string | null; first_import_last_id: string | null } | undefined =
    await db('roster_imports').where({ id: importId }).first('campaign_code', 'first_import_after_id', 'first_import_last_id');
  if (!imp) return;
  let after = 0;
  for (;;) {
    const rows: { id: string }[] =
      imp.first_import_last_id === null
        ? await db('beneficiaries')
          .select('id')
          .where('last_import_id', importId)
          .andWhere('id', '>', after)
          .orderBy('id')
          .limit(batchIds)
        : // A first import (migration 006): its rows are the campaign's in its range of ids that no later import changed.
          await db('beneficiaries')
            .select('id')
            .where('campaign_code', imp.campaign_code)
            .andWhere('id', '>', Math.max(after, Number(imp.first_import_after_id)))
            .andWhere('id', '<=', imp.first_import_last_id)
            .andWhere((w) => w.whereNull('last_import_id').orWhere('last_import_id', importId))
            .orderBy('id')
            .limit(batchIds);
    if (rows.length === 0) return;
    const ids = rows.map((r) => Number(r.id));
    yield ids;
    after = ids[ids.length - 1]!;
    if (rows.length < batchIds) return;
  }
}

