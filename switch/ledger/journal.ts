// The PostgreSQL side of the ledger: the state table and its transitions, the journal of every change, the
// answers stored for duplicates, tombstones. Every transition commits together with the answer it produced, so
// "recorded" and "answered" can never disagree. The conditional UPDATEs and the table constraints refuse a second
// reservation whatever Redis said.
//
// The contract of every transition (written down, as jPOS does for commit/abort): it is conditional on the state
// it starts from, and applying it to any other state changes nothing, so a message applied twice is only answered twice.
//   reserve   AVAILABLE with exactly the amount remaining → RESERVED      otherwise: refused, nothing changes
//   confirm   RESERVED → PAID (0220/0221, or the window passing)        PAID, REVERSED, VOIDED: nothing
//   reverse   RESERVED | PAID → AVAILABLE, or PAID if all was dispensed REVERSED, VOIDED: nothing; unknown: tombstone
//   void      RESERVED → AVAILABLE (the withdrawal VOIDED)               otherwise: nothing
// Invariants the database checks on every write (payouts_* constraints) are also asserted here after each change:
// a violated one is a bug, and the transaction must not commit.
import { strict as assert } from 'node:assert';
import type { Knex } from 'knex';
import type { FieldValues } from '../iso8583/message.ts';
import { LEDGER_LIMITS } from './limits.ts';
import { inStatement, inTransaction, Rollback, withConnection, type Pg } from './pg.ts';
import { entitlementOutcome, type Payout, type PayoutState, type RosterEntry } from './rules.ts';
import type { Outcome } from '../handlers/outcomes.ts';

/** A request as §6 identifies it. */
export interface SeenKey {
  cls: string;
  key: string;
  hash: Buffer;
}

/**
 * What a response says beyond the fields it echoes. With the request it rebuilds the response exactly
 * (respond(req, outcome, extra)), and a replay is only ever given for the very same request body.
 */
export interface Answer {
  outcome: Outcome;
  extra: FieldValues;
}

export interface Stored {
  hash: Buffer;
  answer: Answer;
}

/** The message that causes a change, for the history. */
export interface MessageRef {
  mti: string;
  acquirer: string;
  terminal: string;
  stan: string;
  rrn: string;
}

interface PayoutRow {
  state: PayoutState;
  entitled_minor: string;
  paid_minor: string;
  reserved_minor: string;
}

function payoutOf(r: PayoutRow): Payout {
  return {
    state: r.state,
    entitledMinor: Number(r.entitled_minor),
    paidMinor: Number(r.paid_minor),
    reservedMinor: Number(r.reserved_minor),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Reads for a 0200: stored answer (or tombstone) and roster entry in one round trip, many requests per round trip.

export interface ReadQuery {
  seen: SeenKey;
  campaign: string | null;
  nhiHash: Buffer | null;
  /** The claimant's ID hash: compared in PostgreSQL, so no identifier hash travels back. */
  claimantHash: Buffer | null;
}

export interface ReadResult {
  seen: Stored | null;
  tombstoned: boolean;
  entry: RosterEntry | null;
  /** False when the entitlement has no payouts row yet (imported after the campaign was loaded). */
  payoutStored: boolean;
}

/** The roster read of a batch of 0200s ($1: the requests as one JSON array). */
export const READ_SQL = `SELECT q.i, s.body_hash AS seen_hash, s.response AS seen_response,
            b.id::text AS beneficiary_id, coalesce(b.superseded, false) AS superseded,
            (b.id_hash = q.claimant) AS is_self, (q.claimant = ANY (b.guardian_hashes)) AS is_guardian,
            to_char(b.birth_date, 'YYYY-MM-DD') AS birth_date, b.amount_minor::text AS amount_minor,
            p.state, p.entitled_minor::text, p.paid_minor::text, p.reserved_minor::text
       -- The requests arrive as one JSON array (rows): one JSON.stringify in the switch instead of an escaped array
       -- literal per column, and one parse here.
       FROM (SELECT r.i, r.cls, r.msg_key, r.campaign, decode(r.nhi, 'hex') AS nhi, decode(r.claimant, 'hex') AS claimant
               FROM json_to_recordset($1::json) AS r(i int, cls text, msg_key text, campaign text, nhi text, claimant text)) q
       -- Index lookups per request whatever the table sizes were when the plan was made (the statement keeps one
       -- generic plan): messages_seen starts empty and grows, and a plan made on it empty (a hash of the whole
       -- table) would outlive that by far.
       LEFT JOIN LATERAL (SELECT body_hash, response FROM messages_seen
                           WHERE mti_class = q.cls AND msg_key = q.msg_key LIMIT 1) s ON true
       -- The card is someone's current card (one probe, the common case), else maybe a superseded one.
       LEFT JOIN LATERAL (SELECT id, id_hash, guardian_hashes, birth_date, amount_minor, false AS superseded FROM beneficiaries
                           WHERE campaign_code = q.campaign AND nhi_hash = q.nhi
                          UNION ALL
                          SELECT h.id, h.id_hash, h.guardian_hashes, h.birth_date, h.amount_minor, true FROM nhi_cards c
                            JOIN beneficiaries h ON h.id = c.beneficiary_id
                           WHERE c.campaign_code = q.campaign AND c.nhi_hash = q.nhi
                          LIMIT 1) b ON true
       LEFT JOIN payouts p ON p.beneficiary_id = b.id`;

export async function readBatch(q: Pg, items: ReadQuery[]): Promise<ReadResult[]> {
  const rows = await q.query<{
    i: number;
    seen_hash: Buffer | null;
    seen_response: Answer | null;
    beneficiary_id: string | null;
    superseded: boolean;
    is_self: boolean | null;
    is_guardian: boolean | null;
    birth_date: string | null;
    amount_minor: string | null;
    state: PayoutState | null;
    entitled_minor: string | null;
    paid_minor: string | null;
    reserved_minor: string | null;
  }>(
    READ_SQL,
    [
      JSON.stringify(
        items.map((it, i) => ({
          i, cls: it.seen.cls, msg_key: it.seen.key, campaign: it.campaign, nhi: it.nhiHash?.toString('hex') ?? null, claimant: it.claimantHash?.toString('hex') ?? null,
        })),
      ),
    ],
  );
  const out: ReadResult[] = items.map(() => ({ seen: null, tombstoned: false, entry: null, payoutStored: false }));
  for (const r of rows) {
    const res = out[r.i]!;
    if (r.seen_hash && r.seen_response) {
      const stored = { hash: r.seen_hash, answer: r.seen_response };
      if (isTombstone(stored)) res.tombstoned = true;
      else res.seen = stored;
    }
    if (r.beneficiary_id === null) continue;
    res.payoutStored = r.state !== null;
    res.entry = {
      beneficiaryId: r.beneficiary_id,
      superseded: r.superseded,
      isSelf: r.is_self === true,
      isGuardian: r.is_guardian === true,
      birthDate: r.birth_date!,
      payout: r.state
        ? payoutOf(r as PayoutRow)
        : { state: 'AVAILABLE', entitledMinor: Number(r.amount_minor), paidMinor: 0, reservedMinor: 0 },
    };
  }
  return out;
}

export async function findSeen(q: Pg, k: SeenKey): Promise<Stored | null> {
  const [r] = await q.query<{ body_hash: Buffer; response: Answer }>(
    `SELECT body_hash, response FROM messages_seen WHERE mti_class = $1 AND msg_key = $2`,
    [k.cls, k.key],
  );
  return r ? { hash: r.body_hash, answer: r.response } : null;
}

/**
 * A reversal whose original is unknown marks the original's answer slot with this hash (no request hashes to it).
 * The original, when it comes, is declined REVERSED_EARLIER by the §7 checks and its decline replaces the mark.
 */
export const TOMBSTONE_HASH = Buffer.alloc(32);
const TOMBSTONE_ANSWER: Answer = { outcome: 'REVERSED_EARLIER', extra: {} };

export function isTombstone(s: Stored): boolean {
  return s.hash.equals(TOMBSTONE_HASH);
}

function tombstoneKey(original: string): SeenKey {
  return { cls: '020', key: original, hash: TOMBSTONE_HASH };
}

/**
 * Where a stored answer may be replaced: only a tombstone, and only by a decline (an approval for a tombstoned key
 * is exactly what must never be stored).
 */
const ON_SEEN_CONFLICT = `ON CONFLICT (mti_class, msg_key) DO UPDATE
         SET body_hash = EXCLUDED.body_hash, response = EXCLUDED.response, created_at = EXCLUDED.created_at
       WHERE messages_seen.body_hash = '\\x${TOMBSTONE_HASH.toString('hex')}'::bytea AND EXCLUDED.response->>'outcome' <> 'APPROVED'`;

// ---------------------------------------------------------------------------------------------------------------
// Writes for a 0200, grouped: reservations and stored answers of many requests in one transaction.

export interface RecordOp {
  kind: 'record';
  seen: SeenKey;
  answer: Answer;
  /** Decided from the in-memory copy of the roster loaded at this version (RosterIndex), without reading PostgreSQL. */
  rosterVersion?: string;
}

export interface ReserveOp {
  kind: 'reserve';
  seen: SeenKey;
  campaign: string;
  beneficiaryId: string;
  amountMinor: number;
  payoutStored: boolean;
  msg: MessageRef;
  /** DE7 of the 0200 */
  transmitted: string;
  windowMs: number;
  approve: Answer;
  decline(outcome: Outcome): Answer;
  /** As RecordOp's. */
  rosterVersion?: string;
}

export type WriteOp = RecordOp | ReserveOp;

export type WriteResult =
  | { status: 'stored'; answer: Answer }
  | { status: 'approved'; withdrawalId: string; answer: Answer }
  | { status: 'refused'; answer: Answer }
  /** The key was stored meanwhile by someone else (a retransmission racing itself): answer from what is stored. */
  | { status: 'duplicate' }
  /** Nothing changed, but the answer could not be stored: answer 91. */
  | { status: 'unstored' }
  /** A reservation committed for a key someone else answered, and undoing it failed: it must be voided. */
  | { status: 'doubt' }
  /**
   * Decided from the in-memory roster, but PostgreSQL knows more than that copy did (the roster changed since it was
   * loaded, or the key already has an answer or a tombstone): nothing changed; decide again from PostgreSQL.
   */
  | { status: 'reread'; rosterVersion: string };

/**
 * The group commit: every reservation and every answer of the batch in ONE statement, which PostgreSQL commits
 * by itself (no BEGIN/COMMIT round trips). If it fails, nothing of it happened and nobody is approved; if its
 * outcome is unknown (connection lost, deadline), InDoubtError. Afterwards, off the common path: the answers of the
 * reservations PostgreSQL refused (what it holds decides the code), and the undoing of a reservation whose key
 * another instance answered meanwhile.
 */
export async function writeBatch(db: Knex, ops: WriteOp[], now: Date, deadline: number): Promise<WriteResult[]> {
  const out: (WriteResult | undefined)[] = ops.map(() => undefined);
  // At most one reservation per entitlement per statement: the others are refused and answered from what
  // PostgreSQL holds after it (09 while it is reserved). Only a Redis that wrongly said yes twice sends two.
  const claimed = new Set<string>();
  const together: number[] = [];
  const refused: number[] = [];
  ops.forEach((op, i) => {
    if (op.kind === 'reserve' && claimed.has(op.beneficiaryId)) return refused.push(i);
    if (op.kind === 'reserve') claimed.add(op.beneficiaryId);
    together.push(i);
  });
  const missing = ops.filter((op): op is ReserveOp => op.kind === 'reserve' && !op.payoutStored).map((op) => op.beneficiaryId);
  const rows = await inStatement(db, 'group commit', deadline, async (q) => {
    if (missing.length) await materializePayouts(q, null, missing, now);
    return reserveAndStore(q, together.map((i) => ({ i, op: ops[i]! })), now);
  });
  const lost: Array<{ i: number; withdrawalId: string }> = [];
  for (const r of rows) {
    const op = ops[r.ord]!;
    if (r.reread !== null) out[r.ord] = { status: 'reread', rosterVersion: r.reread };
    else if (op.kind === 'record') out[r.ord] = r.stored ? { status: 'stored', answer: op.answer } : { status: 'duplicate' };
    else if (r.withdrawal_id === null) refused.push(r.ord);
    else if (r.stored) out[r.ord] = { status: 'approved', withdrawalId: r.withdrawal_id, answer: op.approve };
    else lost.push({ i: r.ord, withdrawalId: r.withdrawal_id });
  }
  if (refused.length) {
    try {
      const answers = await inStatement(db, 'declines', deadline, (q) => storeDeclines(q, refused.map((i) => ops[i] as ReserveOp), now));
      refused.forEach((i, j) => (out[i] = answers[j]!));
    } catch {
      for (const i of refused) out[i] = { status: 'unstored' };
    }
  }
  for (const { i, withdrawalId } of lost) {
    try {
      await inTransaction(db, 'undo', deadline, (q) => voidWithdrawal(q, withdrawalId, now));
      out[i] = { status: 'duplicate' };
    } catch {
      out[i] = { status: 'doubt' };
    }
  }
  return out as WriteResult[];
}

interface Row {
  ord: number;
  withdrawal_id: string | null;
  stored: boolean;
  /** Decided again from PostgreSQL: the roster version PostgreSQL holds now. */
  reread: string | null;
}

/** The group commit of a batch of 0200s ($1: the batch as one JSON array, $2: now). */
export const RESERVE_SQL = `WITH i AS (
       -- The batch arrives as one JSON array: one JSON.stringify in the switch, one parse here (an array literal per
       -- column cost the switch more than building the rest of the statement).
       SELECT ord, kind, cls, msg_key, decode(body_hash, 'hex') AS body_hash, response::jsonb AS response, bid, amount, campaign,
              acquirer, terminal, stan, transmitted, rrn, window_ms,
              -- Decided from a copy of the roster (roster_version set): only if the roster is still what the copy held
              -- (migration 008) and the key has no answer or tombstone yet, which that copy could not know.
              roster_version IS NOT NULL AND (roster_version IS DISTINCT FROM (SELECT version FROM roster_version WHERE one)
                OR m.known IS NOT NULL) AS reread
         FROM json_to_recordset($1::json) AS i(ord int, kind text, cls text, msg_key text, body_hash text, response json, bid bigint,
                                               amount bigint, campaign text, acquirer text, terminal text, stan text,
                                               transmitted text, rrn text, window_ms bigint, roster_version bigint)
         -- A probe per request, as a join: an EXISTS here may be planned as a hash of all of messages_seen, built again
         -- for every batch (the generic plan is made when the table is empty, and it grows to millions of rows).
         LEFT JOIN LATERAL (SELECT true AS known FROM messages_seen m
                             WHERE i.roster_version IS NOT NULL AND m.mti_class = i.cls AND m.msg_key = i.msg_key LIMIT 1) m ON true),
     -- Share-locks the campaign: a close waits for reservations committing, later ones see it closed.
     c AS (SELECT code FROM campaigns WHERE code IN (SELECT campaign FROM i WHERE kind = 'reserve') AND state = 'open' FOR SHARE),
     -- Each CTE carries what the next needs in its RETURNING: joins between CTEs would be planned blind.
     r AS (
       UPDATE payouts p SET state = 'RESERVED', reserved_minor = i.amount, updated_at = $2
         FROM i JOIN c ON c.code = i.campaign
        WHERE i.kind = 'reserve' AND NOT i.reread AND p.beneficiary_id = i.bid AND p.state = 'AVAILABLE' AND p.entitled_minor - p.paid_minor = i.amount
       RETURNING p.beneficiary_id, p.campaign_code, i.msg_key, i.acquirer, i.terminal, i.stan, i.transmitted, i.rrn, i.amount, i.window_ms,
                 i.cls, i.body_hash, i.response),
     w AS (
       INSERT INTO withdrawals (campaign_code, beneficiary_id, msg_key, acquirer, terminal, stan, transmitted, rrn,
                                amount_minor, state, reserved_at, due_at)
       SELECT campaign_code, beneficiary_id, msg_key, acquirer, terminal, stan, transmitted, rrn,
              amount, 'RESERVED', $2, $2 + window_ms * interval '1 millisecond'
         FROM r
       RETURNING id, beneficiary_id, campaign_code, acquirer, terminal, stan, rrn, amount_minor),
     -- A reservation leaves paid_minor as it was, so the row as the statement began tells it.
     h AS (
       INSERT INTO payout_history (at, campaign_code, beneficiary_id, withdrawal_id, event, from_state, to_state, mti,
                                   acquirer, terminal, stan, rrn, amount_minor, paid_after_minor, reserved_after_minor)
       SELECT $2, w.campaign_code, w.beneficiary_id, w.id, 'RESERVE', 'AVAILABLE', 'RESERVED', '0200',
              w.acquirer, w.terminal, w.stan, w.rrn, w.amount_minor, p.paid_minor, w.amount_minor
         FROM w JOIN payouts p ON p.beneficiary_id = w.beneficiary_id),
     -- The answers: every record, and the approval of every reservation made. A key stored meanwhile is left alone.
     s AS (
       INSERT INTO messages_seen (mti_class, msg_key, body_hash, response, created_at)
       SELECT a.cls, a.msg_key, a.body_hash, a.response, $2
         FROM (SELECT cls, msg_key, body_hash, response FROM i WHERE kind = 'record' AND NOT reread
               UNION ALL SELECT cls, msg_key, body_hash, response FROM r) AS a
       ${ON_SEEN_CONFLICT}
       RETURNING mti_class, msg_key)
     -- What was reserved and what was stored, matched to the requests by the caller: a join of CTEs here would be
     -- planned from a guess of their sizes (the statement keeps one generic plan), a loop over both at worst.
     SELECT 'w' AS t, w.beneficiary_id::text AS k, w.id::text AS withdrawal_id FROM w
     UNION ALL
     SELECT 's', s.mti_class || '|' || s.msg_key, NULL FROM s
     UNION ALL
     SELECT 'x', i.ord::text, coalesce((SELECT version::text FROM roster_version WHERE one), '0') FROM i WHERE i.reread`;

async function reserveAndStore(q: Pg, items: Array<{ i: number; op: WriteOp }>, now: Date): Promise<Row[]> {
  const rows = await q.query<{ t: 'w' | 's' | 'x'; k: string; withdrawal_id: string | null }>(
    RESERVE_SQL,
    [
      JSON.stringify(
        // One object shape for both kinds (no spreads): JSON.stringify walks them on its fast path.
        items.map(({ i, op }) => {
          const r = op.kind === 'reserve' ? op : null;
          return {
            ord: i, kind: op.kind, cls: op.seen.cls, msg_key: op.seen.key, body_hash: op.seen.hash.toString('hex'),
            response: r ? r.approve : (op as RecordOp).answer, bid: r?.beneficiaryId, amount: r?.amountMinor, campaign: r?.campaign,
            acquirer: r?.msg.acquirer, terminal: r?.msg.terminal, stan: r?.msg.stan, transmitted: r?.transmitted, rrn: r?.msg.rrn,
            window_ms: r?.windowMs, roster_version: op.rosterVersion,
          };
        }),
      ),
      now,
    ],
  );
  // One reservation per entitlement and one request per key in a statement (writeBatch, KeyLock): the keys are unique.
  const reserved = new Map<string, string>();
  const stored = new Set<string>();
  const reread = new Map<number, string>();
  for (const row of rows) {
    if (row.t === 'w') reserved.set(row.k, row.withdrawal_id!);
    else if (row.t === 'x') reread.set(Number(row.k), row.withdrawal_id!);
    else stored.add(row.k);
  }
  return items.map(({ i, op }) => ({
    ord: i,
    withdrawal_id: op.kind === 'reserve' ? (reserved.get(op.beneficiaryId) ?? null) : null,
    stored: stored.has(`${op.seen.cls}|${op.seen.key}`),
    reread: reread.get(i) ?? null,
  }));
}

/** Reservations PostgreSQL refused: the §7 code from what it holds now, stored as their answers. */
async function storeDeclines(q: Pg, ops: ReserveOp[], now: Date): Promise<WriteResult[]> {
  const rows = await q.query<PayoutRow & { beneficiary_id: string; open: boolean }>(
    `SELECT p.beneficiary_id::text, p.state, p.entitled_minor::text, p.paid_minor::text, p.reserved_minor::text,
            EXISTS (SELECT 1 FROM campaigns c WHERE c.code = p.campaign_code AND c.state = 'open') AS open
       FROM payouts p WHERE p.beneficiary_id = ANY($1)`,
    [[...new Set(ops.map((op) => op.beneficiaryId))]],
  );
  const byId = new Map(rows.map((r) => [r.beneficiary_id, r]));
  const answers = ops.map((op) => {
    const p = byId.get(op.beneficiaryId);
    // Open campaign and an entitlement that matches, yet refused: another reservation won the row meanwhile.
    const outcome: Outcome = !p?.open ? 'CAMPAIGN_CLOSED' : entitlementOutcome(payoutOf(p), op.amountMinor) || 'IN_PROGRESS';
    return op.decline(outcome);
  });
  const stored = await storeAnswers(q, ops.map((op, j) => ({ seen: op.seen, answer: answers[j]! })), now);
  return ops.map((op, j) => (stored.has(op.seen.cls + op.seen.key) ? { status: 'refused', answer: answers[j]! } : { status: 'duplicate' }));
}

/** Inserts the answers; returns the keys (cls+key) stored. A key already there is left as it is (but see ON_SEEN_CONFLICT). */
async function storeAnswers(q: Pg, answers: { seen: SeenKey; answer: Answer }[], now: Date): Promise<Set<string>> {
  const rows = await q.query<{ k: string }>(
    `INSERT INTO messages_seen (mti_class, msg_key, body_hash, response, created_at)
     SELECT cls, msg_key, body_hash, response, $5 FROM unnest($1::text[], $2::text[], $3::bytea[], $4::jsonb[])
       AS a(cls, msg_key, body_hash, response)
     ${ON_SEEN_CONFLICT}
     RETURNING mti_class || msg_key AS k`,
    [
      answers.map((a) => a.seen.cls),
      answers.map((a) => a.seen.key),
      answers.map((a) => a.seen.hash),
      answers.map((a) => JSON.stringify(a.answer)),
      now,
    ],
  );
  return new Set(rows.map((r) => r.k));
}

/**
 * Payout rows for beneficiaries that have none yet: the given ids, or those of the campaign with ids in [from, to).
 * An entitlement nobody has touched follows the roster's amount; one reserved or paid keeps the amount it had.
 */
export async function materializePayouts(
  q: Pg, campaign: string | null, ids: string[] | null, now: Date, range: [number, number] | null = null,
): Promise<number> {
  const rows = await q.query<{ n: string }>(
    `WITH m AS (
       INSERT INTO payouts (beneficiary_id, campaign_code, entitled_minor, updated_at)
       SELECT id, campaign_code, amount_minor, $3 FROM beneficiaries
        WHERE ($1::text IS NULL OR campaign_code = $1) AND ($2::bigint[] IS NULL OR id = ANY($2))
          AND ($4::bigint IS NULL OR (id >= $4 AND id < $5))
       ON CONFLICT (beneficiary_id) DO UPDATE SET entitled_minor = EXCLUDED.entitled_minor, updated_at = EXCLUDED.updated_at
        WHERE payouts.state = 'AVAILABLE' AND payouts.paid_minor = 0 AND payouts.entitled_minor <> EXCLUDED.entitled_minor
       RETURNING 1)
     SELECT count(*)::text AS n FROM m`,
    [campaign, ids, now, range?.[0] ?? null, range?.[1] ?? null],
  );
  return Number(rows[0]!.n);
}

/** The smallest and largest beneficiary id of a campaign (null when it has none). */
export async function beneficiaryIdRange(q: Pg, campaign: string): Promise<[number, number] | null> {
  const [r] = await q.query<{ lo: string | null; hi: string | null }>(
    `SELECT min(id)::text AS lo, max(id)::text AS hi FROM beneficiaries WHERE campaign_code = $1`,
    [campaign],
  );
  return r?.lo && r.hi ? [Number(r.lo), Number(r.hi)] : null;
}

// ---------------------------------------------------------------------------------------------------------------
// Advices: confirmation (0220/0221, or the window passing) and reversal (0420/0421). Each is one transaction.

export interface Settled {
  withdrawalId: string;
  campaign: string;
  beneficiaryId: string;
}

/** RESERVED → PAID for the given withdrawals that are still RESERVED; returns those it changed. */
/**
 * Settles reserved withdrawals as paid, at $2 (the window's and the confirmations' statements). `targets` defines the CTE t: the withdrawals (id), each with the request
 * of the batch it answers (ord; null for none), the event, and the message that settles it (mti, acquirer, terminal,
 * stan, rrn; null where the switch itself decides: the window). `also` adds CTEs, `rows` rows to the result.
 */
function settleSql(targets: string, also = '', rows = ''): string {
  return `WITH ${targets},
     -- Each CTE carries what the next needs in its RETURNING: joins between CTEs would be planned blind.
     w AS (
       UPDATE withdrawals x SET state = 'PAID', dispensed_minor = x.amount_minor, settled_at = $2
         FROM t WHERE x.id = t.id AND x.state = 'RESERVED'
       RETURNING t.ord, x.id, x.beneficiary_id, x.campaign_code, x.amount_minor, t.event, t.mti,
                 coalesce(t.acquirer, x.acquirer) AS acquirer, coalesce(t.terminal, x.terminal) AS terminal, t.stan,
                 coalesce(t.rrn, x.rrn) AS rrn),
     p AS (
       UPDATE payouts p SET state = 'PAID', paid_minor = p.paid_minor + p.reserved_minor, reserved_minor = 0, updated_at = $2
         FROM w WHERE p.beneficiary_id = w.beneficiary_id AND p.state = 'RESERVED'
       RETURNING p.beneficiary_id, p.paid_minor, p.reserved_minor),
     h AS (
       INSERT INTO payout_history (at, campaign_code, beneficiary_id, withdrawal_id, event, from_state, to_state, mti,
                                   acquirer, terminal, stan, rrn, amount_minor, paid_after_minor, reserved_after_minor)
       SELECT $2, w.campaign_code, w.beneficiary_id, w.id, w.event, 'RESERVED', 'PAID', w.mti, w.acquirer, w.terminal,
              w.stan, w.rrn, w.amount_minor, p.paid_minor, p.reserved_minor
         FROM w JOIN p ON p.beneficiary_id = w.beneficiary_id)${also}
     SELECT 'w' AS kind, w.ord, NULL::text AS key, w.id::text AS "withdrawalId", w.campaign_code::text AS campaign,
            w.beneficiary_id::text AS "beneficiaryId",
            (SELECT count(*) FROM p WHERE p.beneficiary_id = w.beneficiary_id)::int AS payouts
       FROM w${rows}`;
}

/** The withdrawals of $1 (ids) whose confirmation window has passed: the switch decides, no message. */
export const SETTLE_SQL = settleSql(
  `t AS (SELECT NULL::int AS ord, id, 'SETTLE_WINDOW'::text AS event, NULL::text AS mti, NULL::text AS acquirer,
                NULL::text AS terminal, NULL::text AS stan, NULL::text AS rrn FROM unnest($1::bigint[]) AS id)`,
);

/**
 * 0220/0221s together, in one statement that commits by itself ($1: the advices as one JSON array): each settles the
 * latest withdrawal of its original's key, and its answer is stored. One commit for the batch, where one per advice
 * held the confirmations to a few hundred a second (each waited its turn to flush the WAL). An advice whose key
 * already has an answer changes nothing: it is a retransmission, answered from what is stored.
 */
export const CONFIRM_BATCH_SQL = settleSql(
  `i AS (SELECT * FROM json_to_recordset($1::json) AS i(ord int, original text, cls text, msg_key text, body_hash text,
                                                       response json, mti text, acquirer text, terminal text, stan text, rrn text)),
     -- Probes per advice, as joins (an EXISTS may be planned as a hash of the whole table: see RESERVE_SQL).
     t AS (SELECT i.ord, o.id, 'CONFIRM'::text AS event, i.mti, i.acquirer, i.terminal, i.stan, i.rrn
             FROM i CROSS JOIN LATERAL (SELECT x.id FROM withdrawals x WHERE x.msg_key = i.original ORDER BY x.id DESC LIMIT 1) o
             LEFT JOIN LATERAL (SELECT true AS known FROM messages_seen m WHERE m.mti_class = i.cls AND m.msg_key = i.msg_key LIMIT 1) k ON true
            WHERE k.known IS NULL)`,
  `,
     -- Every advice's answer; a key stored meanwhile (the same advice at another switch) is left as it is.
     s AS (INSERT INTO messages_seen (mti_class, msg_key, body_hash, response, created_at)
           SELECT cls, msg_key, decode(body_hash, 'hex'), response::jsonb, $2 FROM i
           ON CONFLICT (mti_class, msg_key) DO NOTHING
           RETURNING mti_class, msg_key)`,
  `
     UNION ALL
     SELECT 's', NULL, s.mti_class || '|' || s.msg_key, NULL, NULL, NULL, NULL FROM s`,
);

interface SettleRow extends Settled {
  kind: 'w' | 's';
  /** The op of the batch ('w': the one that settled it, if any). */
  ord: number | null;
  /** 's': the class and key of an answer stored. */
  key: string | null;
  payouts: number | null;
}

/** The withdrawals settled. One whose payout was not RESERVED is a bug: the statement's own check, asserted. */
function settledOf(rows: SettleRow[]): Array<Settled & { ord: number | null }> {
  return rows
    .filter((r) => r.kind === 'w')
    .map((r) => {
      assert.equal(r.payouts, 1, `withdrawal ${r.withdrawalId} was RESERVED but its payout was not`);
      return { ord: r.ord, withdrawalId: r.withdrawalId, campaign: r.campaign, beneficiaryId: r.beneficiaryId };
    });
}

async function settleWindow(q: Pg, ids: string[], now: Date): Promise<Settled[]> {
  if (ids.length === 0) return [];
  return settledOf(await q.query<SettleRow>(SETTLE_SQL, [ids, now])).map(({ ord: _ord, ...settled }) => settled);
}

interface WithdrawalRow {
  id: string;
  campaign_code: string;
  beneficiary_id: string;
  amount_minor: string;
  state: 'RESERVED' | 'PAID' | 'REVERSED' | 'VOIDED';
}

async function lockWithdrawal(q: Pg, msgKey: string): Promise<WithdrawalRow | null> {
  const [w] = await q.query<WithdrawalRow>(
    `SELECT id::text, campaign_code, beneficiary_id::text, amount_minor::text, state
       FROM withdrawals WHERE msg_key = $1 ORDER BY id DESC LIMIT 1 FOR UPDATE`,
    [msgKey],
  );
  return w ?? null;
}

/**
 * 'duplicate': the key was answered by someone else meanwhile. Its change, if this advice made one all the same (two
 * switches' batches racing for one withdrawal and its key), still has to reach Redis.
 */
export type AdviceResult<T> = { status: 'stored'; change: T | null } | { status: 'duplicate'; change?: T | null };

/** Stores the answer last; a key stored meanwhile by someone else undoes everything (the caller replays it). */
async function storeOrUndo<T>(q: Pg, seen: SeenKey, answer: Answer, change: T | null, now: Date): Promise<AdviceResult<T> | Rollback<AdviceResult<T>>> {
  const stored = await storeAnswers(q, [{ seen, answer }], now);
  if (stored.size === 0) return new Rollback({ status: 'duplicate' });
  return { status: 'stored', change };
}

export interface ConfirmOp {
  seen: SeenKey;
  /** The key of the 0200 it confirms. */
  original: string;
  msg: MessageRef;
  answer: Answer;
}

/**
 * 0220/0221s: the cash was dispensed (CONFIRM_BATCH_SQL). Unknown original or already settled: recorded, nothing
 * changes. One result per op, in order: 'duplicate' for a key stored by someone else meanwhile, with what it changed.
 */
export async function confirmBatch(q: Pg, ops: ConfirmOp[], now: Date): Promise<AdviceResult<Settled>[]> {
  const rows = await q.query<SettleRow>(CONFIRM_BATCH_SQL, [
    JSON.stringify(
      ops.map((op, ord) => ({
        ord, original: op.original, cls: op.seen.cls, msg_key: op.seen.key, body_hash: op.seen.hash.toString('hex'), response: op.answer,
        mti: op.msg.mti, acquirer: op.msg.acquirer, terminal: op.msg.terminal, stan: op.msg.stan, rrn: op.msg.rrn,
      })),
    ),
    now,
  ]);
  const stored = new Set(rows.filter((r) => r.kind === 's').map((r) => r.key));
  const changed = new Map(settledOf(rows).map(({ ord, ...settled }) => [ord, settled]));
  return ops.map((op, ord) =>
    ({ status: stored.has(`${op.seen.cls}|${op.seen.key}`) ? 'stored' : 'duplicate', change: changed.get(ord) ?? null }),
  );
}

export interface Reversed {
  campaign: string;
  beneficiaryId: string;
  amountMinor: number;
  dispensedMinor: number;
}

/**
 * 0420/0421, full (dispensed 0) or partial. RESERVED: what was dispensed becomes paid, the rest re-opens.
 * PAID (confirmed before): the part not dispensed is taken back from paid. REVERSED or VOIDED: nothing.
 * Unknown original: a tombstone, so that the original, if it comes late, is declined and reserves nothing.
 */
export async function reverse(
  db: Knex, a: { seen: SeenKey; original: string; msg: MessageRef; dispensedMinor: number; answer: Answer }, now: Date, deadline: number,
): Promise<AdviceResult<Reversed>> {
  return inTransaction(db, 'reversal', deadline, async (q) => {
    let w = await lockWithdrawal(q, a.original);
    if (!w) {
      // The tombstone is the original's own answer slot (class 020, its key): whichever comes first, the original's
      // answer or the tombstone, takes it. Our insert waits for an original still committing; if that one won, its
      // withdrawal (if it was approved) is visible to the next statement and is reversed as usual.
      const marked = await storeAnswers(q, [{ seen: tombstoneKey(a.original), answer: TOMBSTONE_ANSWER }], now);
      if (marked.size === 1) {
        await q.query(
          `INSERT INTO reversal_tombstones (msg_key, dispensed_minor, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
          [a.original, a.dispensedMinor, now],
        );
        return storeOrUndo<Reversed>(q, a.seen, a.answer, null, now);
      }
      w = await lockWithdrawal(q, a.original);
      if (!w) return storeOrUndo<Reversed>(q, a.seen, a.answer, null, now); // the original was declined
    }
    if (w.state !== 'RESERVED' && w.state !== 'PAID') return storeOrUndo<Reversed>(q, a.seen, a.answer, null, now);
    const amount = Number(w.amount_minor);
    const dispensed = Math.min(a.dispensedMinor, amount);
    const [paidDelta, reservedDelta] = w.state === 'RESERVED' ? [dispensed, amount] : [dispensed - amount, 0];
    const [p] = await q.query<{ state: PayoutState; paid_minor: string; reserved_minor: string }>(
      `UPDATE payouts SET paid_minor = paid_minor + $2, reserved_minor = reserved_minor - $3,
              state = CASE WHEN paid_minor + $2 = entitled_minor THEN 'PAID' ELSE 'AVAILABLE' END, updated_at = $4
        WHERE beneficiary_id = $1
       RETURNING state, paid_minor::text, reserved_minor::text`,
      [w.beneficiary_id, paidDelta, reservedDelta, now],
    );
    assert(p && p.reserved_minor === '0', `reversal of withdrawal ${w.id} left its payout reserved`);
    await q.query(`UPDATE withdrawals SET state = 'REVERSED', dispensed_minor = $2, settled_at = $3 WHERE id = $1`, [w.id, dispensed, now]);
    await history(q, now, w, 'REVERSE', w.state, p!.state, a.msg, amount - dispensed, p!);
    return storeOrUndo<Reversed>(
      q, a.seen, a.answer, { campaign: w.campaign_code, beneficiaryId: w.beneficiary_id, amountMinor: amount, dispensedMinor: dispensed }, now,
    );
  });
}

async function history(
  q: Pg, now: Date, w: WithdrawalRow, event: string, from: string, to: PayoutState, msg: MessageRef | null, amount: number,
  after: { paid_minor: string; reserved_minor: string },
): Promise<void> {
  await q.query(
    `INSERT INTO payout_history (at, campaign_code, beneficiary_id, withdrawal_id, event, from_state, to_state, mti,
                                 acquirer, terminal, stan, rrn, amount_minor, paid_after_minor, reserved_after_minor)
     SELECT $1, campaign_code, beneficiary_id, id, $2, $3, $4, $5, coalesce($6, acquirer), coalesce($7, terminal), $8,
            coalesce($9, rrn), $10, $11, $12
       FROM withdrawals WHERE id = $13`,
    [now, event, from, to, msg?.mti ?? null, msg?.acquirer ?? null, msg?.terminal ?? null, msg?.stan ?? null, msg?.rrn ?? null,
      amount, after.paid_minor, after.reserved_minor, w.id],
  );
}

/** RESERVED → VOIDED for one withdrawal, its payout back to AVAILABLE; false if it is not RESERVED. */
async function voidWithdrawal(q: Pg, withdrawalId: string, now: Date): Promise<boolean> {
  const [w] = await q.query<WithdrawalRow>(
    `SELECT id::text, campaign_code, beneficiary_id::text, amount_minor::text, state FROM withdrawals WHERE id = $1 FOR UPDATE`,
    [withdrawalId],
  );
  if (!w || w.state !== 'RESERVED') return false;
  const [p] = await q.query<{ state: PayoutState; paid_minor: string; reserved_minor: string }>(
    `UPDATE payouts SET state = 'AVAILABLE', reserved_minor = 0, updated_at = $2 WHERE beneficiary_id = $1 AND state = 'RESERVED'
     RETURNING state, paid_minor::text, reserved_minor::text`,
    [w.beneficiary_id, now],
  );
  assert(p, `withdrawal ${w.id} is RESERVED but its payout is not`);
  await q.query(`UPDATE withdrawals SET state = 'VOIDED', dispensed_minor = 0, settled_at = $2 WHERE id = $1`, [w.id, now]);
  await history(q, now, w, 'VOID', 'RESERVED', p.state, null, Number(w.amount_minor), p);
  return true;
}

/**
 * Undoes a reservation whose commit was in doubt while its client was told 91. With `answer`, stores that 91 as
 * the answer, so a retransmission hears what was said; without, the stored answer is someone else's and stays.
 * Returns true if there was something to undo.
 */
export async function voidReservation(
  db: Knex, a: { seen: Pick<SeenKey, 'cls' | 'key'>; beneficiaryId: string; answer: Answer | null }, now: Date, deadline: number,
): Promise<boolean> {
  return inTransaction(db, 'void', deadline, async (q) => {
    // Waits for a commit of that reservation still under way, so "not there" means "never committed".
    await q.query(`SELECT 1 FROM payouts WHERE beneficiary_id = $1 FOR UPDATE`, [a.beneficiaryId]);
    const [w] = await q.query<{ id: string }>(
      `SELECT id::text FROM withdrawals WHERE msg_key = $1 AND beneficiary_id = $2 AND state = 'RESERVED'`,
      [a.seen.key, a.beneficiaryId],
    );
    if (!w || !(await voidWithdrawal(q, w.id, now))) return false;
    if (a.answer) {
      await q.query(`UPDATE messages_seen SET response = $3 WHERE mti_class = $1 AND msg_key = $2`, [
        a.seen.cls, a.seen.key, JSON.stringify(a.answer),
      ]);
    }
    return true;
  });
}

/** Settles withdrawals whose confirmation window has passed by `now` (those of `withdrawalIds`, or all that are due). */
export async function settleDue(db: Knex, now: Date, withdrawalIds: string[] | null, deadline: number): Promise<Settled[]> {
  const all: Settled[] = [];
  for (;;) {
    const done = await inTransaction(db, 'settlement', deadline, async (q) => {
      const due = await q.query<{ id: string }>(
        `SELECT id::text FROM withdrawals WHERE state = 'RESERVED' AND due_at <= $1 AND ($2::bigint[] IS NULL OR id = ANY($2))
          ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED`,
        [now, withdrawalIds, LEDGER_LIMITS.SETTLE_BATCH_ROWS],
      );
      return settleWindow(q, due.map((d) => d.id), now);
    });
    all.push(...done);
    if (done.length < LEDGER_LIMITS.SETTLE_BATCH_ROWS) return all;
  }
}

/** Deletes stored answers and tombstones older than 48 hours; returns how many rows went. */
export async function purgeExpired(db: Knex, now: Date, deadline: number): Promise<{ seen: number; tombstones: number }> {
  const purge = async (table: string, retentionMs: number) => {
    let total = 0;
    for (;;) {
      const n = await withConnection(db, 'purge', deadline, async (q) => {
        const rows = await q.query<{ n: string }>(
          `WITH d AS (DELETE FROM ${table} WHERE ctid IN (SELECT ctid FROM ${table} WHERE created_at < $1 LIMIT $2) RETURNING 1)
           SELECT count(*)::text AS n FROM d`,
          [new Date(now.getTime() - retentionMs), LEDGER_LIMITS.PURGE_BATCH_ROWS],
        );
        return Number(rows[0]!.n);
      });
      total += n;
      if (n < LEDGER_LIMITS.PURGE_BATCH_ROWS) return total;
    }
  };
  return {
    seen: await purge('messages_seen', LEDGER_LIMITS.SEEN_RETENTION_MS),
    tombstones: await purge('reversal_tombstones', LEDGER_LIMITS.TOMBSTONE_RETENTION_MS),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// What Redis should hold, computed from PostgreSQL: for a rebuild, a refresh, a repair.

export interface RedisRow {
  id: string;
  value: number;
}

const REDIS_VALUE = `CASE p.state WHEN 'AVAILABLE' THEN p.entitled_minor - p.paid_minor WHEN 'PAID' THEN 0
                      ELSE -floor(extract(epoch FROM p.updated_at))::bigint END`;

/** One page of a campaign's values in beneficiary order, after `afterId`. */
export async function redisPage(q: Pg, campaign: string, afterId: string, limit: number): Promise<RedisRow[]> {
  const rows = await q.query<{ id: string; value: string }>(
    `SELECT p.beneficiary_id::text AS id, (${REDIS_VALUE})::text AS value FROM payouts p
      WHERE p.campaign_code = $1 AND p.beneficiary_id > $2 ORDER BY p.beneficiary_id LIMIT $3`,
    [campaign, afterId, limit],
  );
  return rows.map((r) => ({ id: r.id, value: Number(r.value) }));
}

/** The values of every entitlement in the given id ranges [from, to), in beneficiary order. */
export async function redisRanges(q: Pg, campaign: string, ranges: Array<[number, number]>): Promise<RedisRow[]> {
  const rows = await q.query<{ id: string; value: string }>(
    `SELECT p.beneficiary_id::text AS id, (${REDIS_VALUE})::text AS value
       FROM payouts p JOIN unnest($2::bigint[], $3::bigint[]) AS r(lo, hi) ON p.beneficiary_id >= r.lo AND p.beneficiary_id < r.hi
      WHERE p.campaign_code = $1 ORDER BY p.beneficiary_id`,
    [campaign, ranges.map((r) => r[0]), ranges.map((r) => r[1])],
  );
  return rows.map((r) => ({ id: r.id, value: Number(r.value) }));
}
