// A ledger on real PostgreSQL and Redis for tests: a bank, campaigns and people inserted as the roster import
// would leave them (keyed hashes), message builders, and a way to send a message through a handler as the link does.
import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import { ManualClock, type Clock } from '../../switch/clock.ts';
import { createDb } from '../../switch/db.ts';
import { createRedis } from '../../switch/redis.ts';
import { createLogger, silentLogger, type Logger } from '../../switch/log.ts';
import type { Bank } from '../../switch/banks.ts';
import { encode } from '../../switch/iso8583/codec.ts';
import { buildTlv } from '../../switch/iso8583/de48.ts';
import type { IsoMessage } from '../../switch/iso8583/message.ts';
import { campaignKey, hashIdentifier } from '../../switch/roster/hashing.ts';
import { createLedger, type LedgerOps, type FinancialMti } from '../../switch/ledger/index.ts';
import { openCampaign, closeCampaign } from '../../switch/ledger/opening.ts';
import { freshDatabase, freshRedis, type TestDatabase, type TestRedis } from '../helpers/services.ts';

export const IDENTITY_KEY = 'test-identity-key';
export const BANK: Bank = { code: '004', name: 'Test Bank', macKey: null, active: true };
export const OTHER_BANK: Bank = { code: '700', name: 'Other Bank', macKey: null, active: true };
/** 2026-12-03 16:15:30 in Taipei: DE13 "1203". */
export const T0 = '2026-12-03T08:15:30Z';
export const NT6000 = 600_000;

export interface Person {
  nhi: string;
  id: string;
  birth: string;
  guardians?: string[];
  amountMinor?: number;
}

/** Valid-looking ID numbers (the link checks their shape; the ledger only hashes them). */
export const IDS = {
  adult: 'A123456789',
  guardian: 'F131104093',
  other: 'B223456782',
} as const;

let nhiSeq = 100_000;
/** A fresh 12-digit NHI card number. */
export function nhi(): string {
  return String(++nhiSeq).padStart(12, '0');
}

let idSeq = 10_000_000;
/** A fresh ID number of the national shape (check digit not computed: the ledger never validates it). */
export function idNo(): string {
  return `C1${String(++idSeq).slice(-8)}`;
}

export function adult(extra: Partial<Person> = {}): Person {
  return { nhi: nhi(), id: idNo(), birth: '1980-05-01', ...extra };
}

const MAX_WARNINGS_KEPT = 20;

export class Fixture {
  readonly ledgers: LedgerOps[] = [];
  private readonly closers: Array<() => Promise<unknown> | void> = [];

  /** The last warnings of this fixture's ledgers (why a request got 91), to show when an assertion fails. */
  readonly warnings: string[] = [];
  private readonly logger = createLogger({}, 'warn', (line) => {
    this.warnings.push(line);
    if (this.warnings.length > MAX_WARNINGS_KEPT) this.warnings.shift();
  });

  private constructor(readonly tdb: TestDatabase, readonly tredis: TestRedis, readonly clock: ManualClock) {}

  static async create(clock = new ManualClock(T0)): Promise<Fixture> {
    const [tdb, tredis] = await Promise.all([freshDatabase(), freshRedis()]);
    const f = new Fixture(tdb, tredis, clock);
    await tdb.db('banks').insert([
      { code: BANK.code, name: BANK.name, active: true },
      { code: OTHER_BANK.code, name: OTHER_BANK.name, active: true },
    ]);
    return f;
  }

  get db(): Knex {
    return this.tdb.db;
  }

  get redis(): Redis {
    return this.tredis.redis;
  }

  async campaign(code: string, people: Person[], opts: { amountMinor?: number; windowMs?: number; open?: boolean } = {}): Promise<void> {
    await this.db('campaigns').insert({
      code,
      name: code,
      amount_minor: opts.amountMinor ?? NT6000,
      confirmation_window_ms: opts.windowMs ?? 600_000,
    });
    await this.addPeople(code, people);
    if (opts.open !== false) await this.open(code);
  }

  /** Inserts beneficiaries and their current cards as the roster import leaves them; returns their ids. */
  async addPeople(code: string, people: Person[]): Promise<string[]> {
    const key = campaignKey(IDENTITY_KEY, code);
    const ids: string[] = [];
    for (const p of people) {
      const [b] = await this.db('beneficiaries')
        .insert({
          campaign_code: code,
          id_hash: hashIdentifier(key, 'id', p.id),
          birth_date: p.birth,
          amount_minor: p.amountMinor ?? (await this.db('campaigns').where({ code }).first()).amount_minor,
          guardian_hashes: (p.guardians ?? []).map((g) => hashIdentifier(key, 'id', g)),
          nhi_hash: hashIdentifier(key, 'nhi', p.nhi),
        })
        .returning('id');
      ids.push(String(b.id));
    }
    return ids;
  }

  /** An adult added to an open campaign as a late import would add it, and taken into the ledger at once. */
  async latePerson(ledger: LedgerOps, code: string, extra: Partial<Person> = {}): Promise<Person> {
    const p = adult(extra);
    await ledger.refreshBeneficiaries(code, await this.addPeople(code, [p]));
    return p;
  }

  /** A new current card for a beneficiary: the old one becomes superseded. */
  async replaceCard(code: string, oldNhi: string, newNhi: string): Promise<void> {
    const key = campaignKey(IDENTITY_KEY, code);
    const old = await this.db('beneficiaries').where({ campaign_code: code, nhi_hash: hashIdentifier(key, 'nhi', oldNhi) }).first('id', 'nhi_hash');
    await this.db('beneficiaries').where({ id: old.id }).update({ nhi_hash: hashIdentifier(key, 'nhi', newNhi) });
    await this.db('nhi_cards').insert({ campaign_code: code, nhi_hash: old.nhi_hash, beneficiary_id: old.id, superseded_at: this.db.fn.now() });
  }

  control(redis: Redis = this.redis) {
    return { db: this.db, redis, clock: this.clock as Clock, logger: silentLogger };
  }

  open(code: string) {
    return openCampaign(this.control(), code);
  }

  close(code: string) {
    return closeCampaign(this.control(), code);
  }

  /** A started ledger instance with its own PostgreSQL pool and its own fail-fast Redis client. */
  async ledger(
    opts: {
      jobs?: boolean; clock?: Clock; dbUrl?: string; redisUrl?: string; logger?: Logger; inDoubtRecoveryDelayMs?: number; rosterCopies?: boolean;
      rosterCopyStartWaitMs?: number;
    } = {},
  ): Promise<LedgerOps> {
    const db = createDb(opts.dbUrl ?? this.tdb.url);
    const redisUrl = opts.redisUrl ?? this.tredis.url;
    const redis = createRedis(redisUrl);
    redis.on('error', () => {});
    const ledger = createLedger({
      db, redis, redisUrl, clock: opts.clock ?? this.clock, identityKey: IDENTITY_KEY, logger: opts.logger ?? this.logger, jobs: opts.jobs ?? false,
      inDoubtRecoveryDelayMs: opts.inDoubtRecoveryDelayMs, rosterCopies: opts.rosterCopies,
      rosterCopyStartWaitMs: opts.rosterCopyStartWaitMs,
    });
    await ledger.start();
    this.ledgers.push(ledger);
    this.closers.push(async () => {
      await ledger.stop();
      redis.disconnect();
      await db.destroy();
    });
    return ledger;
  }

  onClose(fn: () => Promise<unknown> | void): void {
    this.closers.push(fn);
  }

  async payout(nhiNo: string, code = 'C1'): Promise<{ state: string; entitled: number; paid: number; reserved: number } | null> {
    const key = campaignKey(IDENTITY_KEY, code);
    const r = await this.db('beneficiaries as b')
      .join('payouts as p', 'p.beneficiary_id', 'b.id')
      .where({ 'b.campaign_code': code, 'b.nhi_hash': hashIdentifier(key, 'nhi', nhiNo) })
      .first('p.state', 'p.entitled_minor', 'p.paid_minor', 'p.reserved_minor');
    return r ? { state: r.state, entitled: Number(r.entitled_minor), paid: Number(r.paid_minor), reserved: Number(r.reserved_minor) } : null;
  }

  /** Everything the ledger holds about one beneficiary: its payout, and how many withdrawals and history rows. */
  async activity(nhiNo: string, code = 'C1'): Promise<unknown[]> {
    const key = campaignKey(IDENTITY_KEY, code);
    const holder = await this.db('beneficiaries').where({ campaign_code: code, nhi_hash: hashIdentifier(key, 'nhi', nhiNo) }).first('id');
    const id = holder?.id ?? -1;
    const count = async (table: string) => Number((await this.db(table).where({ beneficiary_id: id }).count<{ n: string }[]>('* as n'))[0]!.n);
    return [await this.payout(nhiNo, code), await count('withdrawals'), await count('payout_history')];
  }

  async count(table: string): Promise<number> {
    const [r] = await this.db(table).count<{ count: string }[]>('* as count');
    return Number(r!.count);
  }

  async destroy(): Promise<void> {
    for (const c of this.closers.reverse()) await c();
    await this.tredis.release();
    await this.tdb.drop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Messages as a partner host sends them.

let stanSeq = 0;
export function nextStan(): string {
  return String((++stanSeq % 999_999) + 1).padStart(6, '0');
}

export interface WithdrawalOpts {
  person: Pick<Person, 'nhi' | 'id'>;
  claimant?: string;
  amountMinor?: number;
  processingCode?: string;
  currency?: string;
  acquirer?: string;
  terminal?: string;
  stan?: string;
  de7?: string;
  de13?: string;
  cp?: string;
}

export function withdrawal(o: WithdrawalOpts): IsoMessage {
  const stan = o.stan ?? nextStan();
  const tags: [string, string][] = [['NH', o.person.nhi], ['ID', o.claimant ?? o.person.id]];
  if (o.cp !== undefined) tags.push(['CP', o.cp]);
  return {
    mti: '0200',
    fields: {
      3: o.processingCode ?? '010000',
      4: String(o.amountMinor ?? NT6000).padStart(12, '0'),
      7: o.de7 ?? '1203081530',
      11: stan,
      12: '161530',
      13: o.de13 ?? '1203',
      32: o.acquirer ?? BANK.code,
      37: `3337${stan}00`.slice(0, 12),
      41: o.terminal ?? 'ATM00001',
      48: buildTlv(tags),
      49: o.currency ?? '901',
    },
  };
}

export function inquiry(o: WithdrawalOpts): IsoMessage {
  return withdrawal({ ...o, processingCode: '310000', amountMinor: 0 });
}

function de90(original: IsoMessage): string {
  const f = original.fields;
  return `0200${f[11]}${f[7]}${f[32]!.padStart(11, '0')}${'0'.repeat(11)}`;
}

export function confirmation(original: IsoMessage, o: { mti?: '0220' | '0221'; stan?: string; de7?: string } = {}): IsoMessage {
  const f = original.fields;
  return {
    mti: o.mti ?? '0220',
    fields: { 3: f[3], 4: f[4], 7: o.de7 ?? '1203081545', 11: o.stan ?? nextStan(), 32: f[32], 37: f[37], 41: f[41], 49: f[49], 90: de90(original) },
  };
}

export function reversal(
  original: IsoMessage, o: { mti?: '0420' | '0421'; stan?: string; de7?: string; dispensedMinor?: number; reason?: string } = {},
): IsoMessage {
  const f = original.fields;
  const fields: IsoMessage['fields'] = {
    3: f[3], 4: f[4], 7: o.de7 ?? '1203081600', 11: o.stan ?? nextStan(), 32: f[32], 37: f[37], 41: f[41], 49: f[49],
    39: o.reason ?? (o.dispensedMinor ? '32' : '68'), 90: de90(original),
  };
  if (o.dispensedMinor !== undefined) fields[95] = String(o.dispensedMinor).padStart(12, '0') + '0'.repeat(30);
  return { mti: o.mti ?? '0420', fields };
}

/** As the link does: the encoded bytes are the body the duplicate check compares. */
export function send(ledger: LedgerOps, msg: IsoMessage, bank: Bank = BANK): Promise<IsoMessage> {
  return ledger.handlers[msg.mti as FinancialMti](msg, { bank, body: encode(msg) });
}
