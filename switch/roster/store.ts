// Reading the stored roster: what the ledger needs to answer a withdrawal (by NHI hash) and to load a campaign.
// Everything here is in hashes; to look up a number that arrived on the wire, hash it first:
//   const key = campaignHashKey(config.identityKey, campaign);       // once per campaign (switch/campaigns.ts)
//   await lookupCard(db, campaign, hashIdentifier(key, 'nhi', de48.NH));
//   entry.idHash / entry.guardianHashes vs hashIdentifier(key, 'id', de48.ID)
import type { Knex } from 'knex';

export interface RosterEntry {
  beneficiaryId: number;
  campaignCode: string;
  idHash: Buffer;
  /** YYYY-MM-DD */
  birthDate: string;
  /** TWD minor units. */
  amountMinor: number;
  guardianHashes: Buffer[];
  /** The beneficiary's current NHI card. */
  nhiHash: Buffer;
}

export type CardLookup =
  | { status: 'current'; entry: RosterEntry }
  /** The card was replaced by a newer one: 14 SUPERSEDED_CARD. */
  | { status: 'superseded'; entry: RosterEntry }
  /** Not on the roster: 14 UNKNOWN_CARD. */
  | { status: 'unknown' };

/** One card of the campaign, current or superseded, with its holder's entry: for loading a campaign into a cache. */
export interface RosterCard {
  nhiHash: Buffer;
  superseded: boolean;
  entry: RosterEntry;
}

const ENTRY_COLUMNS = `b.id, b.campaign_code, b.id_hash, b.birth_date::text AS birth_date, b.amount_minor, b.guardian_hashes,
  b.nhi_hash AS current_nhi`;

interface EntryRow {
  id: string;
  campaign_code: string;
  id_hash: Buffer;
  birth_date: string;
  amount_minor: string;
  guardian_hashes: Buffer[];
  current_nhi: Buffer;
}

function entry(r: EntryRow): RosterEntry {
  return {
    beneficiaryId: Number(r.id),
    campaignCode: r.campaign_code,
    idHash: r.id_hash,
    birthDate: r.birth_date,
    amountMinor: Number(r.amount_minor),
    guardianHashes: r.guardian_hashes,
    nhiHash: r.current_nhi,
  };
}

/** The roster entry an NHI card (by hash) leads to, and whether the card is still the current one. */
export async function lookupCard(db: Knex, campaignCode: string, nhiHash: Buffer): Promise<CardLookup> {
  // A current card is a column of its holder's row; nhi_cards holds only superseded cards (migration 005).
  const { rows } = await db.raw(
    `SELECT ${ENTRY_COLUMNS}, false AS superseded FROM beneficiaries b WHERE b.campaign_code = ? AND b.nhi_hash = ?
     UNION ALL
     SELECT ${ENTRY_COLUMNS}, true FROM nhi_cards c JOIN beneficiaries b ON b.id = c.beneficiary_id
      WHERE c.campaign_code = ? AND c.nhi_hash = ?
     LIMIT 1`,
    [campaignCode, nhiHash, campaignCode, nhiHash],
  );
  const r = rows[0];
  if (!r) return { status: 'unknown' };
  return { status: r.superseded ? 'superseded' : 'current', entry: entry(r) };
}

/** The entries of the given beneficiaries (e.g. those an import changed), in id order. */
export async function entriesByIds(db: Knex, ids: number[]): Promise<RosterEntry[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.raw(`SELECT ${ENTRY_COLUMNS} FROM beneficiaries b WHERE b.id = ANY(?::bigint[]) ORDER BY b.id`, [ids]);
  return rows.map(entry);
}

/** Every card of a campaign with its holder, in batches (keyset-paged, so memory stays bounded). */
export async function* rosterCards(db: Knex, campaignCode: string, batchRows = 10_000): AsyncGenerator<RosterCard[]> {
  let after = Buffer.alloc(0);
  for (;;) {
    const { rows } = await db.raw(
      `(SELECT b.nhi_hash AS card, false AS superseded, ${ENTRY_COLUMNS} FROM beneficiaries b
         WHERE b.campaign_code = ? AND b.nhi_hash > ? ORDER BY b.nhi_hash LIMIT ?)
       UNION ALL
       (SELECT c.nhi_hash, true, ${ENTRY_COLUMNS} FROM nhi_cards c JOIN beneficiaries b ON b.id = c.beneficiary_id
         WHERE c.campaign_code = ? AND c.nhi_hash > ? ORDER BY c.nhi_hash LIMIT ?)
       ORDER BY card LIMIT ?`,
      [campaignCode, after, batchRows, campaignCode, after, batchRows, batchRows],
    );
    if (rows.length === 0) return;
    yield rows.map((r: EntryRow & { card: Buffer; superseded: boolean }) => ({ nhiHash: r.card, superseded: r.superseded, entry: entry(r) }));
    after = rows[rows.length - 1].card;
    if (rows.length < batchRows) return;
  }
}

export async function countBeneficiaries(db: Knex, campaignCode: string): Promise<number> {
  const r = await db('beneficiaries').where({ campaign_code: campaignCode }).count<{ n: string }[]>({ n: '*' });
  return Number(r[0]!.n);
}
