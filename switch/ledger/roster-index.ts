// A copy of one campaign's roster inside the process, so that a withdrawal's card and claimant can be checked without
// a PostgreSQL round trip. It answers exactly as the roster part of READ_SQL (journal.ts) answers for the snapshot it
// was loaded from: the card is a beneficiary's current card, else one of its superseded cards, else unknown; the
// claimant is the beneficiary (id_hash) or one of its guardians (guardian_hashes); birth date, amount, and whether
// the payouts row exists. `version` says which roster that was (roster_version, read in the same snapshot).
//
// Off the V8 heap: a million entries as JS objects would be a million things for the GC to trace on every major
// collection (pauses on the money path). The copy is three typed arrays, whose contents V8 never scans:
//   entries    one 64-byte record per card, so a lookup reads one cache line (ENTRY below): current cards in id
//              order, then superseded cards, each a copy of its holder's record under its own nhi hash
//   guardians  the guardian hashes, 16 bytes each; an entry holds where its own start and how many there are
//   slots      open addressing with linear probing: entry index + 1 (0: empty), at most half full, placed by the
//              first 4 bytes of the nhi hash (an HMAC: uniformly random already, no further hashing needed)
// Hashes are compared as four 32-bit words. Only lookup allocates, and only the entry it returns.
import type { Knex } from 'knex';
import { IDENTIFIER_HASH_BYTES } from '../roster/hashing.ts';
import { LEDGER_LIMITS } from './limits.ts';

export interface IndexedEntry {
  /** beneficiaries.id as decimal text */
  beneficiaryId: string;
  /** The card is a superseded card of this beneficiary. */
  superseded: boolean;
  /** The claimant's ID hash is the beneficiary's own. */
  isSelf: boolean;
  /** The claimant's ID hash is one of the beneficiary's guardians'. */
  isGuardian: boolean;
  /** 'YYYY-MM-DD' */
  birthDate: string;
  amountMinor: number;
  /** A payouts row exists for the beneficiary. */
  payoutStored: boolean;
}

/** The campaign has more cards (or guardian hashes) than one copy may hold. */
export class RosterIndexTooLarge extends Error {}

/**
 * An entry, as PostgreSQL packs a beneficiary (HOLDERS_SQL: integers big-endian, as int4send/int8send write them)
 * up to GUARDIAN_START, then what the load adds. Ids are bigint but below 2^53 (checked), so exact as doubles; the
 * amount is read as the double Number() would make of its decimal text, as readBatch does.
 */
const ENTRY = {
  NHI: 0, // 16 bytes
  ID_HASH: 16, // 16 bytes
  ID: 32, // int8
  AMOUNT: 40, // int8, minor units
  BIRTH_DAYS: 48, // int4, days since 1970-01-01
  FLAGS: 52, // int4: guardian count * 2, + 1 if the payouts row exists
  GUARDIAN_START: 56, // uint32, in guardian hashes
  SUPERSEDED: 60, // uint32: 1 for a superseded card
  BYTES: 64,
} as const;
const HOLDER_RECORD = ENTRY.GUARDIAN_START; // what PostgreSQL sends per beneficiary
const ENTRY_WORDS = ENTRY.BYTES / 4;
const WORDS = IDENTIFIER_HASH_BYTES / 4;
/** At most half the slots are used: linear probing then takes ~1.5 probes to find a card and ~2.5 to miss one. */
const MAX_LOAD = 0.5;
/** Guardian hashes, in all, per card the copy may hold: a campaign of children with two guardians each needs 2. */
const GUARDIANS_PER_ENTRY = 4;
/** Guardians per beneficiary (the import allows 10). */
const MAX_GUARDIANS_PER_BENEFICIARY = 255;
/** A page's hex (112 characters a row) stays far below V8's longest string (2^29 characters). */
const MAX_FETCH_ROWS = 1_000_000;
const DAY_MS = 86_400_000;
/** Years 1 to 9999: isoDate writes them as PostgreSQL's to_char(…, 'YYYY-MM-DD') does. */
const FIRST_DAY = Date.parse('0001-01-01T00:00:00Z') / DAY_MS;
const LAST_DAY = Date.parse('9999-12-31T00:00:00Z') / DAY_MS;

// Counted first, in the same snapshot as the rows: the arrays are allocated once, at their final size, and a roster
// too large is refused before anything is read.
const COUNT_SQL = `SELECT count(*)::text AS holders, coalesce(sum(cardinality(guardian_hashes)), 0)::text AS guardians,
            (SELECT count(*) FROM nhi_cards WHERE campaign_code = ?)::text AS superseded
       FROM beneficiaries WHERE campaign_code = ?`;

// A page arrives as one value, not as rows: pg makes a string per column of every row, and those strings (and the
// Buffers and arrays parsed from them) were most of the load's time: 8 s for a million beneficiaries on 2 CPUs, half
// of it in the garbage collector; now ~4 s, nearly all of it PostgreSQL's. So PostgreSQL packs each row into the first
// 56 bytes of an entry (the hashes are 16 bytes by the tables' CHECKs) and a page into one bytea, sent as hex.
// Guardian hashes have no length CHECK: they come as bytea's text, \x and 32 hex digits each, in one string per page,
// and each one is checked as it is decoded. NULL elements are left out (NULL matches no claimant).
// Keyset pages by id, each one index range whatever the roster's size; the payouts range is bounded too, or the merge
// join would read the payouts index from its start on every page. The aggregates take the rows in the order the page
// came in, without an ORDER BY of their own (sorting the page again cost half as much as making it); the load checks
// that order and fails if it was not kept.
const HOLDERS_SQL = `SELECT encode(string_agg(r.rec, ''::bytea), 'hex') AS recs, string_agg(r.guardians, '') AS guardians
       FROM (SELECT b.nhi_hash || b.id_hash || int8send(b.id) || int8send(b.amount_minor) || int4send(b.birth_date - DATE '1970-01-01')
                      || int4send(2 * cardinality(array_remove(b.guardian_hashes, NULL)) + (p.beneficiary_id IS NOT NULL)::int) AS rec,
                    CASE WHEN cardinality(b.guardian_hashes) = 0 THEN '' ELSE array_to_string(b.guardian_hashes::text[], '') END AS guardians
               FROM beneficiaries b LEFT JOIN payouts p ON p.beneficiary_id = b.id AND p.beneficiary_id > ?::bigint
              WHERE b.campaign_code = ? AND b.id > ?::bigint
              ORDER BY b.id LIMIT ?) r`;

// Superseded cards by their primary key (campaign_code, nhi_hash): nhi hash | holder id (int8) = 24 bytes.
const CARD_RECORD = 24;
const SUPERSEDED_SQL = `SELECT encode(string_agg(c.nhi_hash || int8send(c.beneficiary_id), ''::bytea), 'hex') AS recs
       FROM (SELECT nhi_hash, beneficiary_id FROM nhi_cards WHERE campaign_code = ? AND nhi_hash > ? ORDER BY nhi_hash LIMIT ?) c`;

/** pg query options: the server's text as it is, no parsing into Buffers or numbers. */
const RAW = { types: { getTypeParser: () => (text: string) => text } };

/** Hex digit values by character code; -1 for anything else. */
const HEX_DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_DIGIT['0123456789abcdef'.charCodeAt(i)] = i;
  HEX_DIGIT['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/** Bytes viewed as big-endian integers (DataView) and as 32-bit words (for hashes: compared, never interpreted). */
class Store {
  readonly bytes: Buffer;
  readonly words: Int32Array;
  readonly view: DataView;

  constructor(byteLength: number) {
    const buffer = new ArrayBuffer(byteLength);
    this.bytes = Buffer.from(buffer);
    this.words = new Int32Array(buffer);
    this.view = new DataView(buffer);
  }

  /** A non-negative int8 (an id) at `at`, exact below 2^53. */
  uint64(at: number): number {
    return this.view.getUint32(at) * 2 ** 32 + this.view.getUint32(at + 4);
  }

  /** An int8 at `at`, rounded once to the nearest double, as Number() rounds its decimal text. */
  int64(at: number): number {
    return this.view.getInt32(at) * 2 ** 32 + this.view.getUint32(at + 4);
  }

  equalHash(at: number, w0: number, w1: number, w2: number, w3: number): boolean {
    const w = this.words;
    const i = at / 4;
    return w[i] === w0 && w[i + 1] === w1 && w[i + 2] === w2 && w[i + 3] === w3;
  }
}

/** One page as it arrived: `records` whole records of `recordBytes`. */
class Page extends Store {
  records = 0;

  constructor(private readonly recordBytes: number, maxRecords: number) {
    super(recordBytes * maxRecords);
  }

  fill(hex: string | null): void {
    this.records = 0;
    if (hex === null) return;
    const n = hex.length / (2 * this.recordBytes);
    if (!Number.isInteger(n) || n * this.recordBytes > this.bytes.length) throw new Error(`roster index: a page of ${hex.length / 2} bytes`);
    if (this.bytes.write(hex, 0, 'hex') !== n * this.recordBytes) throw new Error('roster index: a page that is not hex');
    this.records = n;
  }
}

export class RosterIndex {
  /** The roster version (text) the index was loaded at: read in the same snapshot as the rows. */
  readonly version: string;
  private readonly entries: Store;
  private readonly guardians: Store;
  private readonly slots: Uint32Array;
  private readonly mask: number;
  private holders = 0;
  private cards = 0;
  private guardiansUsed = 0;
  /** The queried hashes as words (nhi, then claimant): copied here so that lookup allocates nothing to compare. */
  private readonly query = new Store(2 * IDENTIFIER_HASH_BYTES);

  private constructor(
    readonly campaign: string,
    version: string,
    private readonly maxHolders: number,
    private readonly maxCards: number,
    private readonly maxGuardians: number,
  ) {
    this.version = version;
    this.entries = new Store(maxCards * ENTRY.BYTES);
    this.guardians = new Store(maxGuardians * IDENTIFIER_HASH_BYTES);
    let capacity = 16;
    while (capacity * MAX_LOAD < maxCards) capacity *= 2;
    this.slots = new Uint32Array(capacity);
    this.mask = capacity - 1;
  }

  /** Cards indexed (current + superseded). */
  get size(): number {
    return this.cards;
  }

  /** Bytes of the off-heap storage. */
  get bytes(): number {
    return this.entries.bytes.length + this.guardians.bytes.length + this.slots.byteLength;
  }

  /** null: the card is not in this copy of the roster. */
  lookup(nhiHash: Buffer, claimantHash: Buffer): IndexedEntry | null {
    // Every stored hash is 16 bytes: a hash of any other length equals none of them.
    if (nhiHash.length !== IDENTIFIER_HASH_BYTES) return null;
    const q = this.query;
    q.bytes.set(nhiHash, 0);
    const e = this.find(q.words[0]!, q.words[1]!, q.words[2]!, q.words[3]!);
    if (e < 0) return null;
    const v = this.entries.view;
    const at = e * ENTRY.BYTES;
    const flags = v.getInt32(at + ENTRY.FLAGS);
    let isSelf = false;
    let isGuardian = false;
    if (claimantHash.length === IDENTIFIER_HASH_BYTES) {
      q.bytes.set(claimantHash, IDENTIFIER_HASH_BYTES);
      const c0 = q.words[4]!, c1 = q.words[5]!, c2 = q.words[6]!, c3 = q.words[7]!;
      isSelf = this.entries.equalHash(at + ENTRY.ID_HASH, c0, c1, c2, c3);
      for (let g = v.getUint32(at + ENTRY.GUARDIAN_START), end = g + (flags >>> 1); g < end && !isGuardian; g++) {
        isGuardian = this.guardians.equalHash(g * IDENTIFIER_HASH_BYTES, c0, c1, c2, c3);
      }
    }
    return {
      beneficiaryId: String(this.entries.uint64(at + ENTRY.ID)),
      superseded: v.getUint32(at + ENTRY.SUPERSEDED) === 1,
      isSelf,
      isGuardian,
      birthDate: isoDate(v.getInt32(at + ENTRY.BIRTH_DAYS)),
      amountMinor: this.entries.int64(at + ENTRY.AMOUNT),
      payoutStored: (flags & 1) === 1,
    };
  }

  /**
   * Reads the campaign's roster in one REPEATABLE READ READ ONLY transaction: first `SELECT version::text FROM
   * roster_version` (no row: '0'), then the rows, paged by id (keyset, fetchRows rows per query). Throws
   * RosterIndexTooLarge if the campaign has more than maxEntries cards.
   */
  static async load(db: Knex, campaign: string, opts: { maxEntries?: number; fetchRows?: number } = {}): Promise<RosterIndex> {
    const maxEntries = opts.maxEntries ?? LEDGER_LIMITS.ROSTER_INDEX_MAX_ENTRIES;
    const fetchRows = opts.fetchRows ?? LEDGER_LIMITS.ROSTER_INDEX_FETCH_ROWS;
    // Entry indexes + 1 are 32-bit slots.
    if (!(Number.isSafeInteger(maxEntries) && maxEntries >= 0 && maxEntries < 2 ** 32 - 1)) throw new RangeError(`maxEntries ${maxEntries}: 0 to 2^32-2`);
    if (!(Number.isSafeInteger(fetchRows) && fetchRows > 0 && fetchRows <= MAX_FETCH_ROWS)) throw new RangeError(`fetchRows ${fetchRows}: 1 to ${MAX_FETCH_ROWS}`);
    // Every statement is bounded by the pool's statement_timeout (switch/db.ts), so a stuck load fails by itself.
    return db.transaction(
      async (trx) => {
        // The transaction's first statement takes its snapshot: the version is the one of the rows read after it.
        const v = await trx.raw<{ rows: Array<{ version: string }> }>(`SELECT version::text AS version FROM roster_version`);
        const version = v.rows[0]?.version ?? '0';
        // The guardians' text is bytea's output: hex, whatever the server's default. And the count reads the whole
        // campaign: a connection the money path used has sequential scans off (pg.ts), which made it 2.5 times slower.
        await trx.raw(`SET LOCAL bytea_output = 'hex'; SET LOCAL enable_seqscan = on`);
        const c = (await trx.raw<{ rows: Array<{ holders: string; guardians: string; superseded: string }> }>(COUNT_SQL, [campaign, campaign])).rows[0]!;
        const holders = Number(c.holders);
        const superseded = Number(c.superseded);
        const guardians = Number(c.guardians);
        if (holders + superseded > maxEntries) {
          throw new RosterIndexTooLarge(
            `roster index: campaign ${campaign} has ${holders + superseded} cards (${holders} current, ${superseded} superseded), more than the ${maxEntries} one copy may hold`,
          );
        }
        if (guardians > GUARDIANS_PER_ENTRY * maxEntries) {
          throw new RosterIndexTooLarge(
            `roster index: campaign ${campaign} has ${guardians} guardian hashes, more than the ${GUARDIANS_PER_ENTRY * maxEntries} one copy may hold`,
          );
        }
        const index = new RosterIndex(campaign, version, holders, holders + superseded, guardians);

        const holderPage = new Page(HOLDER_RECORD, Math.min(fetchRows, holders));
        for (let after = '0'; ;) {
          const r = await trx.raw<{ rows: Array<{ recs: string | null; guardians: string | null }> }>(HOLDERS_SQL, [after, campaign, after, fetchRows]).options(RAW);
          holderPage.fill(r.rows[0]!.recs);
          index.addHolders(holderPage, r.rows[0]!.guardians ?? '');
          if (holderPage.records < fetchRows) break;
          after = String(index.entries.uint64((index.holders - 1) * ENTRY.BYTES + ENTRY.ID));
        }
        // The same snapshot counted them: a difference would be a bug here.
        if (index.holders !== holders) throw new Error(`roster index: counted ${holders} beneficiaries of ${campaign}, read ${index.holders}`);
        const cardPage = new Page(CARD_RECORD, Math.min(fetchRows, superseded));
        for (let after = Buffer.alloc(0); ;) {
          const r = await trx.raw<{ rows: Array<{ recs: string | null }> }>(SUPERSEDED_SQL, [campaign, after, fetchRows]).options(RAW);
          cardPage.fill(r.rows[0]!.recs);
          index.addSuperseded(cardPage);
          if (cardPage.records < fetchRows) break;
          const last = (cardPage.records - 1) * CARD_RECORD;
          after = Buffer.from(cardPage.bytes.subarray(last, last + IDENTIFIER_HASH_BYTES));
        }
        return index;
      },
      { isolationLevel: 'repeatable read', readOnly: true },
    );
  }

  private addHolders(page: Page, guardians: string): void {
    const v = this.entries.view;
    let g = 0; // where the next guardian's text starts
    for (let i = 0; i < page.records; i++) {
      const from = i * HOLDER_RECORD;
      const h = this.holders;
      if (h === this.maxHolders) throw new Error(`roster index: more beneficiaries than the ${this.maxHolders} counted`);
      const id = page.uint64(from + ENTRY.ID);
      if (!Number.isSafeInteger(id)) throw new Error(`roster index: a beneficiary id beyond 2^53`);
      if (h > 0 && id <= this.entries.uint64((h - 1) * ENTRY.BYTES + ENTRY.ID)) throw new Error(`roster index: a page came out of id order at ${id}`);
      const days = page.view.getInt32(from + ENTRY.BIRTH_DAYS);
      if (days < FIRST_DAY || days > LAST_DAY) throw new Error(`roster index: beneficiary ${id} has a birth date outside years 1-9999`);
      const count = page.view.getInt32(from + ENTRY.FLAGS) >>> 1;
      if (count > MAX_GUARDIANS_PER_BENEFICIARY) throw new Error(`roster index: beneficiary ${id} has more than ${MAX_GUARDIANS_PER_BENEFICIARY} guardians`);
      if (this.guardiansUsed + count > this.maxGuardians) throw new Error(`roster index: more guardian hashes than the ${this.maxGuardians} counted`);

      // Current cards come first, entry h for holder h.
      const at = h * ENTRY.BYTES;
      copyWords(page.words, from / 4, this.entries.words, at / 4, HOLDER_RECORD / 4);
      v.setUint32(at + ENTRY.GUARDIAN_START, this.guardiansUsed);
      v.setUint32(at + ENTRY.SUPERSEDED, 0);
      for (let k = 0; k < count; k++) {
        if (!decodeGuardian(guardians, g, this.guardians.bytes, this.guardiansUsed * IDENTIFIER_HASH_BYTES)) {
          throw new Error(`roster index: beneficiary ${id} has a guardian hash that is not ${IDENTIFIER_HASH_BYTES} bytes`);
        }
        g += 2 + 2 * IDENTIFIER_HASH_BYTES;
        this.guardiansUsed++;
      }
      if (!this.insert(h)) throw new Error(`roster index: beneficiary ${id}'s card is another beneficiary's current card`);
      this.holders++;
      this.cards++;
    }
    if (g !== guardians.length) throw new Error(`roster index: a guardian hash that is not ${IDENTIFIER_HASH_BYTES} bytes`);
  }

  private addSuperseded(page: Page): void {
    for (let i = 0; i < page.records; i++) {
      const from = i * CARD_RECORD;
      // The next page starts after this page's last card: it must be its greatest.
      if (i > 0 && page.bytes.compare(page.bytes, from - CARD_RECORD, from - CARD_RECORD + IDENTIFIER_HASH_BYTES, from, from + IDENTIFIER_HASH_BYTES) <= 0) {
        throw new Error('roster index: a page came out of card order');
      }
      const e = this.cards;
      if (e === this.maxCards) throw new Error(`roster index: more cards than the ${this.maxCards} counted`);
      const id = page.uint64(from + IDENTIFIER_HASH_BYTES);
      const holder = this.holderIndex(id);
      if (holder < 0) throw new Error(`roster index: a superseded card's beneficiary ${id} is not in campaign ${this.campaign}`);
      // The holder's entry under this card's hash.
      const at = e * ENTRY.BYTES;
      const words = this.entries.words;
      words.copyWithin(at / 4, (holder * ENTRY.BYTES) / 4, (holder * ENTRY.BYTES) / 4 + ENTRY_WORDS);
      copyWords(page.words, from / 4, words, at / 4, WORDS);
      this.entries.view.setUint32(at + ENTRY.SUPERSEDED, 1);
      // The current card wins, as in READ_SQL (the database refuses a card both current and superseded anyway).
      if (this.insert(e)) this.cards++;
    }
  }

  /** The current card's entry of the beneficiary with this id (they are in id order): -1 when there is none. */
  private holderIndex(id: number): number {
    let lo = 0;
    let hi = this.holders - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.entries.uint64(mid * ENTRY.BYTES + ENTRY.ID);
      if (v === id) return mid;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Puts entry `e` (already written) in the table; false, and nothing changes, when its card is there already. */
  private insert(e: number): boolean {
    const w = this.entries.words;
    const i = (e * ENTRY.BYTES) / 4;
    const w0 = w[i]!, w1 = w[i + 1]!, w2 = w[i + 2]!, w3 = w[i + 3]!;
    if (this.find(w0, w1, w2, w3) >= 0) return false;
    let s = w0 & this.mask;
    while (this.slots[s] !== 0) s = (s + 1) & this.mask;
    this.slots[s] = e + 1;
    return true;
  }

  /** The entry whose nhi hash is these words, or -1. */
  private find(w0: number, w1: number, w2: number, w3: number): number {
    const slots = this.slots;
    const mask = this.mask;
    for (let s = w0 & mask; ; s = (s + 1) & mask) {
      const v = slots[s]!;
      if (v === 0) return -1;
      if (this.entries.equalHash((v - 1) * ENTRY.BYTES, w0, w1, w2, w3)) return v - 1;
    }
  }
}

const TWO_DIGITS = Array.from({ length: 32 }, (_, i) => String(i).padStart(2, '0'));

/**
 * 'YYYY-MM-DD' of a day number (days since 1970-01-01, proleptic Gregorian as PostgreSQL's dates), for years 1 to
 * 9999. The civil-from-days algorithm of H. Hinnant (chrono-Compatible Low-Level Date Algorithms): a fifth of the
 * time of new Date(…).toISOString(), which was half of a lookup's.
 */
function isoDate(days: number): string {
  const z = days + 719_468; // days since 0000-03-01
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097; // day of the 400-year era
  const yoe = Math.floor((doe - Math.floor(doe / 1_460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100)); // day of the year from 1 March
  const mp = Math.floor((5 * doy + 2) / 153); // month from March = 0
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${y < 1000 ? String(y).padStart(4, '0') : y}-${TWO_DIGITS[m]}-${TWO_DIGITS[d]}`;
}

function copyWords(from: Int32Array, at: number, to: Int32Array, toAt: number, n: number): void {
  for (let j = 0; j < n; j++) to[toAt + j] = from[at + j]!;
}

/**
 * One guardian hash as bytea's text (\x and 32 hex digits) at text[at], into out[outAt]. False when it is not that:
 * hex digits hold no backslash, so a hash of any other length puts a \ or the text's end where a digit should be.
 */
function decodeGuardian(text: string, at: number, out: Buffer, outAt: number): boolean {
  if (text.charCodeAt(at) !== 0x5c || text.charCodeAt(at + 1) !== 0x78) return false;
  for (let i = 0, p = at + 2; i < IDENTIFIER_HASH_BYTES; i++, p += 2) {
    const hi = HEX_DIGIT[text.charCodeAt(p)] ?? -1;
    const lo = HEX_DIGIT[text.charCodeAt(p + 1)] ?? -1;
    if (hi < 0 || lo < 0) return false;
    out[outAt + i] = (hi << 4) | lo;
  }
  return true;
}
