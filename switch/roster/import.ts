// The roster import (operations.md, "Roster file"): a CSV stream in, keyed hashes out, in one transaction.
//
// Rows are checked and hashed in JavaScript as they stream in (the clear values go no further), and staged with COPY
// (binary) in a temporary table; the rules that need the whole file or the stored roster (duplicates within the file, a card
// that belongs to someone else) and the writes are then set-based SQL. Memory stays bounded whatever the file size.
//
// After the transaction commits, `onChanged` receives — in batches — the ids of the beneficiaries the import inserted
// or changed (new card, birth date, guardians or amount), so a copy of the roster (the ledger's Redis) can refresh just
// those. The same ids can be read again later with changedBeneficiaryIds(db, importId).
import type { Knex } from 'knex';
import type pg from 'pg';
import { hashIdentifier, preparedKey } from './hashing.ts';
import { BinaryRows, copyFrom } from './copy.ts';
import { readLines, splitCsvLine, MAX_LINE_CHARS } from './csv.ts';
import { checkRow, parseHeader, taipeiDate, RosterFileError, type Header } from './rows.ts';
import { CampaignError, campaignHashKey, requireCampaign, twdToMinor, type Campaign } from '../campaigns.ts';
import { systemClock, type Clock } from '../clock.ts';

export { RosterFileError } from './rows.ts';

/** Rows between two progress reports while reading. */
export const IMPORT_BATCH_ROWS = 10_000;
/** Bytes of staged rows per COPY message. */
const COPY_CHUNK_BYTES = 256 * 1024;
/** A bigger file is refused (Taiwan has about 23.4 million people). */
export const MAX_ROSTER_ROWS = 50_000_000;
/** Rejections kept with their reasons (all are counted). */
export const MAX_REJECTIONS_KEPT = 1_000;
/** The import's set-based statements run over the whole file: they get longer than the usual statement timeout. */
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
}

const STAGE_SQL = `
CREATE TEMP TABLE roster_stage (
  line integer NOT NULL,
  id_hash bytea NOT NULL,
  nhi_hash bytea NOT NULL,
  birth_date date NOT NULL,
  amount_minor bigint NOT NULL,
  guardian_hashes bytea[] NOT NULL,
  reject text,
  first_line integer
) ON COMMIT DROP`;

// The checked rows stream into the stage in PostgreSQL's binary COPY format: no SQL text or literals to build or parse.
const STAGE_COPY_SQL = `COPY roster_stage (line, id_hash, nhi_hash, birth_date, amount_minor, guardian_hashes) FROM STDIN (FORMAT binary)`;
const STAGE_COLUMNS = 6;

// Within the file, an id_no or an NHI number is taken by its first occurrence among the rows that passed the row
// checks; every later row repeating it is rejected (a file that lists a person twice does not say which row is right).
const DUPLICATES_SQL = [
  `UPDATE roster_stage s SET reject = 'dup-id', first_line = d.first
     FROM (SELECT id_hash, min(line) AS first FROM roster_stage GROUP BY id_hash HAVING count(*) > 1) d
    WHERE s.id_hash = d.id_hash AND s.line <> d.first`,
  `UPDATE roster_stage s SET reject = 'dup-nhi', first_line = d.first
     FROM (SELECT nhi_hash, min(line) AS first FROM roster_stage GROUP BY nhi_hash HAVING count(*) > 1) d
    WHERE s.nhi_hash = d.nhi_hash AND s.line <> d.first AND s.reject IS NULL`,
];

// Each remaining row against the stored roster. A card already known is either this person's current card, or one of
// their superseded cards (refused: a replaced card is not brought back), or someone else's (refused). A current card
// is a column of its holder's row, a superseded one a row of nhi_cards (migration 005).
const PLAN_SQL = `
CREATE TEMP TABLE roster_plan ON COMMIT DROP AS
SELECT s.line, s.id_hash, s.nhi_hash, s.birth_date, s.amount_minor, s.guardian_hashes, b.id AS beneficiary_id, b.nhi_hash AS old_nhi,
       CASE
         WHEN h.id IS NOT NULL AND h.id IS DISTINCT FROM b.id THEN 'other-person'
         WHEN h.superseded THEN 'superseded'
         WHEN b.id IS NULL THEN 'new'
         WHEN h.id IS NOT NULL AND b.birth_date = s.birth_date AND b.amount_minor = s.amount_minor
              AND b.guardian_hashes = s.guardian_hashes THEN 'unchanged'
         ELSE 'updated'
       END AS outcome
  FROM roster_stage s
  LEFT JOIN beneficiaries b ON b.campaign_code = $1 AND b.id_hash = s.id_hash
  LEFT JOIN LATERAL (SELECT id, false AS superseded FROM beneficiaries WHERE campaign_code = $1 AND nhi_hash = s.nhi_hash
                     UNION ALL
                     SELECT beneficiary_id, true FROM nhi_cards WHERE campaign_code = $1 AND nhi_hash = s.nhi_hash
                     LIMIT 1) h ON true
 WHERE s.reject IS NULL`;

// New rows are written in key order: a million random keys inserted in file order dirty index pages at random, which
// costs several times more than the same inserts sorted. Beneficiaries go in id_hash order (their ids then follow
// it, so the primary key only grows).
const WRITE_SQL = [
  `INSERT INTO beneficiaries (campaign_code, id_hash, nhi_hash, birth_date, amount_minor, guardian_hashes, last_import_id)
   SELECT $1, id_hash, nhi_hash, birth_date, amount_minor, guardian_hashes, $2 FROM roster_plan WHERE outcome = 'new' ORDER BY id_hash`,
  `UPDATE beneficiaries b
      SET nhi_hash = p.nhi_hash, birth_date = p.birth_date, amount_minor = p.amount_minor, guardian_hashes = p.guardian_hashes,
          last_import_id = $2, updated_at = now()
     FROM roster_plan p
    WHERE p.outcome = 'updated' AND b.id = p.beneficiary_id AND b.campaign_code = $1`,
  // A new card supersedes the current one (the old card stays known: it then answers 14 SUPERSEDED_CARD).
  `INSERT INTO nhi_cards (campaign_code, nhi_hash, beneficiary_id, superseded_at)
   SELECT $1, p.old_nhi, p.beneficiary_id, now() FROM roster_plan p WHERE p.outcome = 'updated' AND p.old_nhi <> p.nhi_hash`,
];

function sqlReason(code: string, firstLine: number | null): string {
  switch (code) {
    case 'dup-id': return `id_no appears on an earlier line (line ${firstLine})`;
    case 'dup-nhi': return `nhi_card_no appears on an earlier line (line ${firstLine})`;
    case 'other-person': return 'nhi_card_no belongs to another person in the campaign';
    case 'superseded': return "nhi_card_no is this person's old card, replaced by a newer one";
    default: return code;
  }
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
  const today = taipeiDate((opts.clock ?? systemClock).now());
  const campaign0 = await requireCampaign(db, campaignCode);
  const key = preparedKey(campaignHashKey(opts.identityKey, campaign0.code));

  const conn = (await db.client.acquireConnection()) as pg.Client;
  let summary: ImportSummary;
  let campaign: Campaign;
  try {
    await conn.query('BEGIN');
    try {
      await conn.query(`SET LOCAL statement_timeout = ${IMPORT_STATEMENT_TIMEOUT_MS}`);
      await conn.query(`SET LOCAL work_mem = '256MB'`);
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
      await conn.query(STAGE_SQL);

      // ---- reading: check, hash, stage ----
      const rejections: Rejection[] = [];
      let rejected = 0;
      let rows = 0;
      let bytes = 0;
      let header: Header | null = null;
      const copy = copyFrom(conn, STAGE_COPY_SQL);
      let drain: Promise<void> | undefined;
      const out = new BinaryRows(COPY_CHUNK_BYTES, (chunk) => {
        // The socket takes the chunk at once; when its buffer is full, reading waits for it to drain.
        drain = copy.write(chunk) ?? drain;
      });
      let staged = 0;
      const reject = (line: number, reason: string) => {
        rejected++;
        if (rejections.length < keep) rejections.push({ line, reason });
      };
      /** The guardians' hashes, sorted: the same guardians in another order are the same roster entry. */
      const guardianHashes = (ids: string[]): Buffer[] => ids.map((g) => hashIdentifier(key, 'id', g)).sort(Buffer.compare);
      const counted = (async function* () {
        for await (const chunk of input) {
          bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
          yield chunk;
        }
      })();

      try {
        await copy.ready;
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
            out.row(STAGE_COLUMNS)
              .int4(no)
              .bytea(hashIdentifier(key, 'id', row.id))
              .bytea(hashIdentifier(key, 'nhi', row.nhi))
              .date(row.birthDate)
              .int8(row.amountTwd === null ? campaign.amountMinor : twdToMinor(row.amountTwd))
              .byteaArray(row.guardians.length === 0 ? [] : guardianHashes(row.guardians));
            if (drain) {
              await drain;
              drain = undefined;
            }
            if (++staged % IMPORT_BATCH_ROWS === 0) opts.onProgress?.({ phase: 'reading', rows, bytes });
          }
        }
        if (header === null) throw new RosterFileError('the file is empty: it must start with a header line');
        out.finish();
        await copy.end();
      } catch (e) {
        // Never leave the connection in COPY when giving up: end it, so that the ROLLBACK below can run.
        await copy.fail('roster import abandoned');
        throw e;
      }

      // ---- checking: whole-file and stored-roster rules ----
      opts.onProgress?.({ phase: 'checking', rows, bytes });
      await conn.query('ANALYZE roster_stage');
      for (const sql of DUPLICATES_SQL) await conn.query(sql);
      await conn.query(PLAN_SQL, [campaign.code]);
      await conn.query('ANALYZE roster_plan');

      // ---- writing ----
      opts.onProgress?.({ phase: 'writing', rows, bytes });
      for (const sql of WRITE_SQL) {
        await conn.query(sql, sql.includes('$2') ? [campaign.code, importId] : sql.includes('$1') ? [campaign.code] : []);
      }

      const counts: Record<string, number> = {};
      for (const r of (await conn.query('SELECT outcome, count(*)::bigint AS n FROM roster_plan GROUP BY outcome')).rows) {
        counts[r.outcome] = Number(r.n);
      }
      const stageRejected = Number(
        (await conn.query('SELECT count(*)::bigint AS n FROM roster_stage WHERE reject IS NOT NULL')).rows[0].n,
      );
      const sqlRejected = stageRejected + (counts['other-person'] ?? 0) + (counts['superseded'] ?? 0);
      const sqlRejections = (
        await conn.query(
          `SELECT line, reject AS code, first_line FROM roster_stage WHERE reject IS NOT NULL
           UNION ALL SELECT line, outcome, NULL FROM roster_plan WHERE outcome IN ('other-person', 'superseded')
           ORDER BY line LIMIT $1`,
          [keep],
        )
      ).rows.map((r) => ({ line: r.line as number, reason: sqlReason(r.code, r.first_line) }));
      rejected += sqlRejected;
      const merged = [...rejections, ...sqlRejections].sort((a, b) => a.line - b.line).slice(0, keep);

      const created = counts['new'] ?? 0;
      const updated = counts['updated'] ?? 0;
      const unchanged = counts['unchanged'] ?? 0;
      await conn.query(
        `UPDATE roster_imports SET finished_at = clock_timestamp(), rows_read = $2, accepted_new = $3, accepted_updated = $4,
                accepted_unchanged = $5, rejected = $6 WHERE id = $1`,
        [importId, rows, created, updated, unchanged, rejected],
      );
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
      await conn.query('ROLLBACK').catch(() => {});
      throw e;
    }
  } finally {
    await db.client.releaseConnection(conn);
  }

  if (opts.onChanged && summary.new + summary.updated > 0) {
    try {
      for await (const ids of changedBeneficiaryIds(db, summary.importId)) await opts.onChanged(campaign, ids);
    } catch (e) {
      throw new ChangeHandlerError(summary, e as Error);
    }
  }
  return summary;
}

/** The import committed, but onChanged failed: the summary is still there to report. */
export class ChangeHandlerError extends Error {
  constructor(readonly summary: ImportSummary, override readonly cause: Error) {
    super(`roster import ${summary.importId} committed, but passing its changes on failed: ${cause.message.split('\n')[0]}`);
  }
}

/** The ids of the beneficiaries an import inserted or changed (and no later import touched since), in batches. */
export async function* changedBeneficiaryIds(db: Knex, importId: number, batchIds = CHANGED_BATCH_IDS): AsyncGenerator<number[]> {
  let after = 0;
  for (;;) {
    const rows: { id: string }[] = await db('beneficiaries')
      .select('id')
      .where('last_import_id', importId)
      .andWhere('id', '>', after)
      .orderBy('id')
      .limit(batchIds);
    if (rows.length === 0) return;
    const ids = rows.map((r) => Number(r.id));
    yield ids;
    after = ids[ids.length - 1]!;
    if (rows.length < batchIds) return;
  }
}
