// The roster import's SQL: what happens to rows once they are checked, hashed and staged (switch/roster/import.ts
// streams them in, a chunk at a time). Everything runs in the import's transaction, on temporary tables.
//
// A chunk's rows are applied as soon as it is staged, while the next chunk is read. That is sound because the rows
// applied then are each the first in the file to carry their id_no and their NHI number (a SeenFilter held back every
// row that might repeat an earlier one): no row of the file can change what another one finds in the stored roster.
// The held rows are checked exactly at the end, against the keys of every staged row, and the survivors applied then.

/** Columns of roster_chunk, in COPY order. */
export const CHUNK_COLUMNS = 7;

export const STAGE_SQL = `
CREATE TEMP TABLE roster_chunk (
  line integer NOT NULL,
  id_hash bytea NOT NULL,
  nhi_hash bytea NOT NULL,
  birth_date date NOT NULL,
  amount_minor bigint NOT NULL,
  guardian_hashes bytea[] NOT NULL,
  held boolean NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE roster_keys (line integer NOT NULL, id_hash bytea NOT NULL, nhi_hash bytea NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE roster_held (LIKE roster_chunk, reject text, first_line integer) ON COMMIT DROP;
CREATE TEMP TABLE roster_rejects (line integer NOT NULL, code text NOT NULL, first_line integer) ON COMMIT DROP`;

// The checked rows stream into the stage in PostgreSQL's binary COPY format: no SQL text or literals to build or parse.
export const CHUNK_COPY_SQL =
  `COPY roster_chunk (line, id_hash, nhi_hash, birth_date, amount_minor, guardian_hashes, held) FROM STDIN (FORMAT binary)`;

// A first import into an empty campaign (FRESH_SQL) skips the stage: every row that is the first in the file to carry
// its id_no and its NHI number is new, so it goes by COPY straight into the roster (sorted by id_hash in JavaScript:
// see insertNew), its keys into roster_keys for the exact check of the held rows, and the held rows into roster_held.
// One COPY into the roster writes its rows in batches (fewer WAL records) through a small ring of buffers, where an
// INSERT ... SELECT from the stage reads and writes every row twice and pushes the indexes' pages out of the cache.
// These rows keep last_import_id NULL: the import marks them by the range of ids it could take (LAST_ID_SQL before and
// after; migration 006), not with an index entry each.
export const FRESH_COLUMNS = 6;
export const FRESH_COPY_SQL = `COPY beneficiaries (campaign_code, id_hash, nhi_hash, birth_date, amount_minor, guardian_hashes)
  FROM STDIN (FORMAT binary)`;
/** The last id handed out for a beneficiary so far, by any transaction (0 before the first). */
export const LAST_ID_SQL =
  `SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('beneficiaries', 'id')::regclass), 0)::text AS id`;
export const KEYS_COLUMNS = 3;
export const KEYS_COPY_SQL = `COPY roster_keys (line, id_hash, nhi_hash) FROM STDIN (FORMAT binary)`;
/** roster_held takes the held rows in roster_chunk's columns (CHUNK_COLUMNS). */
export const HELD_COPY_SQL =
  `COPY roster_held (line, id_hash, nhi_hash, birth_date, amount_minor, guardian_hashes, held) FROM STDIN (FORMAT binary)`;

/** What an apply reports: how many rows had each outcome. */
export type Outcome = 'new' | 'updated' | 'unchanged' | 'other-person' | 'superseded';

/** The import's constants, as SQL literals (the statements run as one multi-statement query, without parameters). */
export interface Literals {
  campaign: string;
  importId: string;
}

// Rows are written in key order: a million random keys inserted in file order dirty index pages at random, which
// costs several times more than the same inserts sorted. Beneficiaries go in id_hash order (their ids then follow
// it, so the primary key only grows).
function insertNew(l: Literals, from: string): string {
  return `INSERT INTO beneficiaries (campaign_code, id_hash, nhi_hash, birth_date, amount_minor, guardian_hashes, last_import_id)
          SELECT ${l.campaign}, id_hash, nhi_hash, birth_date, amount_minor, guardian_hashes, ${l.importId} FROM ${from} ORDER BY id_hash`;
}

/** The `outcome, n` rows of an apply are the result with these columns. */
export const OUTCOME_COLUMNS = ['outcome', 'n'];

/**
 * The statements that apply rows (the first of their keys in the file) against the stored roster. In a campaign
 * that had no roster when the import began, every such row is new: one sorted insert, nothing to look up. The
 * last statement returns the counts (OUTCOME_COLUMNS).
 */
export function applySql(l: Literals, source: string, fresh: boolean): string[] {
  if (fresh) return [`WITH ins AS (${insertNew(l, `(${source}) s`)} RETURNING 1) SELECT 'new' AS outcome, count(*)::int AS n FROM ins`];
  // One statement: the plan is a materialized CTE (held in memory, not written to a table), and the writes read it.
  // Its writes touch disjoint rows, and the roster's statement triggers see them all at its end.
  return [
    `WITH plan AS MATERIALIZED (
       -- A card already known is this person's current card, one of their superseded cards (refused: a replaced card
       -- is not brought back), or someone else's (refused). Index lookups per row (LIMIT 1 keeps them so: a hash join
       -- would read the whole campaign for every chunk), in id_hash order; the card's holder is looked up only when
       -- it is not the person's current card (a re-import of an unchanged roster: one probe a row).
       SELECT s.line, s.id_hash, s.nhi_hash, s.birth_date, s.amount_minor, s.guardian_hashes, b.id AS beneficiary_id, b.nhi_hash AS old_nhi,
              CASE
                WHEN b.nhi_hash = s.nhi_hash THEN
                  CASE WHEN b.birth_date = s.birth_date AND b.amount_minor = s.amount_minor AND b.guardian_hashes = s.guardian_hashes
                       THEN 'unchanged' ELSE 'updated' END
                WHEN h.id IS NOT NULL AND h.id IS DISTINCT FROM b.id THEN 'other-person'
                WHEN h.superseded THEN 'superseded'
                WHEN b.id IS NULL THEN 'new'
                ELSE 'updated'
              END AS outcome
         FROM (SELECT * FROM (${source}) s0 ORDER BY id_hash) s
         LEFT JOIN LATERAL (SELECT id, nhi_hash, birth_date, amount_minor, guardian_hashes FROM beneficiaries
                             WHERE campaign_code = ${l.campaign} AND id_hash = s.id_hash LIMIT 1) b ON true
         LEFT JOIN LATERAL (SELECT id, false AS superseded FROM beneficiaries
                             WHERE s.nhi_hash IS DISTINCT FROM b.nhi_hash AND campaign_code = ${l.campaign} AND nhi_hash = s.nhi_hash
                            UNION ALL
                            SELECT beneficiary_id, true FROM nhi_cards
                             WHERE s.nhi_hash IS DISTINCT FROM b.nhi_hash AND campaign_code = ${l.campaign} AND nhi_hash = s.nhi_hash
                            LIMIT 1) h ON true),
     inserted AS (${insertNew(l, `plan WHERE outcome = 'new'`)}),
     updated AS (
       UPDATE beneficiaries b
          SET nhi_hash = p.nhi_hash, birth_date = p.birth_date, amount_minor = p.amount_minor, guardian_hashes = p.guardian_hashes,
              last_import_id = ${l.importId}, updated_at = now()
         FROM plan p
        WHERE p.outcome = 'updated' AND b.id = p.beneficiary_id AND b.campaign_code = ${l.campaign}),
     -- A new card supersedes the current one (the old card stays known: it then answers 14 SUPERSEDED_CARD).
     superseded AS (
       INSERT INTO nhi_cards (campaign_code, nhi_hash, beneficiary_id, superseded_at)
       SELECT ${l.campaign}, old_nhi, beneficiary_id, now() FROM plan WHERE outcome = 'updated' AND old_nhi <> nhi_hash),
     rejected AS (
       INSERT INTO roster_rejects (line, code) SELECT line, outcome FROM plan WHERE outcome IN ('other-person', 'superseded'))
     SELECT outcome, count(*)::int AS n FROM plan GROUP BY outcome`,
  ];
}

/** The statements for a staged chunk: keep its keys for the exact check, hold back its held rows, apply the rest. */
export function chunkSql(l: Literals, fresh: boolean): string {
  return [
    `INSERT INTO roster_keys SELECT line, id_hash, nhi_hash FROM roster_chunk`,
    `INSERT INTO roster_held SELECT * FROM roster_chunk WHERE held`,
    ...applySql(l, `SELECT * FROM roster_chunk WHERE NOT held`, fresh),
    `TRUNCATE roster_chunk`,
  ].join(';\n');
}

// Within the file, an id_no or an NHI number is taken by its first occurrence among the rows that passed the row
// checks; every later row repeating it is rejected (a file that lists a person twice does not say which row is right).
// Only held rows can repeat an earlier one; their keys are looked for among the keys of every staged row, in one pass
// over them (both keys hashed; the keys of a million rows are read once, not once per key and again to ANALYZE them).
export function heldSql(l: Literals, fresh: boolean): string {
  return [
    `ANALYZE roster_held`,
    `CREATE TEMP TABLE roster_held_keys ON COMMIT DROP AS
       SELECT line, id_hash, nhi_hash FROM roster_keys
        WHERE id_hash IN (SELECT id_hash FROM roster_held) OR nhi_hash IN (SELECT nhi_hash FROM roster_held)`,
    `UPDATE roster_held h SET reject = 'dup-id', first_line = d.first
       FROM (SELECT id_hash, min(line) AS first FROM roster_held_keys GROUP BY id_hash) d
      WHERE h.id_hash = d.id_hash AND d.first < h.line`,
    `UPDATE roster_held h SET reject = 'dup-nhi', first_line = d.first
       FROM (SELECT nhi_hash, min(line) AS first FROM roster_held_keys GROUP BY nhi_hash) d
      WHERE h.nhi_hash = d.nhi_hash AND d.first < h.line AND h.reject IS NULL`,
    `INSERT INTO roster_rejects SELECT line, reject, first_line FROM roster_held WHERE reject IS NOT NULL`,
    ...applySql(l, `SELECT line, id_hash, nhi_hash, birth_date, amount_minor, guardian_hashes FROM roster_held WHERE reject IS NULL`, fresh),
  ].join(';\n');
}

/** Whether the campaign has no roster yet (then every first occurrence is new). */
export const FRESH_SQL = `SELECT NOT EXISTS (SELECT 1 FROM beneficiaries WHERE campaign_code = $1)
                             AND NOT EXISTS (SELECT 1 FROM nhi_cards WHERE campaign_code = $1) AS fresh`;

export const REJECTS_COUNT_SQL = `SELECT count(*)::bigint AS n FROM roster_rejects`;
export const REJECTS_SQL = `SELECT line, code, first_line FROM roster_rejects ORDER BY line LIMIT $1`;

export function rejectReason(code: string, firstLine: number | null): string {
  switch (code) {
    case 'dup-id': return `id_no appears on an earlier line (line ${firstLine})`;
    case 'dup-nhi': return `nhi_card_no appears on an earlier line (line ${firstLine})`;
    case 'other-person': return 'nhi_card_no belongs to another person in the campaign';
    case 'superseded': return "nhi_card_no is this person's old card, replaced by a newer one";
    default: return code;
  }
}
