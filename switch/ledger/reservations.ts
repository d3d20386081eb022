// The fast gate in Redis: one small value per entitlement, in bucketed hashes that stay listpacks.
//
// Layout (every key of one call is a single bucket, hash-tagged, so the scripts run unchanged on Redis Cluster):
//   e:{<campaign>:<bucket>}   hash, bucket = beneficiary id / BUCKET_ENTRIES, field = id % BUCKET_ENTRIES (a small
//                             integer, stored by listpack in 1–2 bytes)
//     field value  > 0        AVAILABLE, that many minor units remain
//                  = 0        PAID, nothing remains
//                  < 0        RESERVED since unix second -value
//     field "_"               the epoch the bucket was loaded under
//   e:{<campaign>}:epoch      the epoch of the last complete load (written after every bucket)
//   e:{<campaign>}:rebuild    lock held by the instance that (re)loads the campaign
//
// A bucket is always written whole, epoch included, in one HSET: a bucket either is complete or is absent.
// Every script first compares the bucket's epoch with the one the caller knows; a flushed or restarted Redis
// has no epoch, so nothing is ever decided from an incomplete Redis: the caller gets NOT_READY and rebuilds.
// PostgreSQL stays the truth: these values only let most requests be decided without touching a row lock.
import type { Redis } from 'ioredis';
import { corkTurn } from '../redis.ts';
import { LEDGER_LIMITS } from './limits.ts';
import type { PayoutState } from './rules.ts';

const EPOCH_FIELD = '_';

export function bucketKey(campaign: string, beneficiaryId: string | number): string {
  return `e:{${campaign}:${Math.floor(Number(beneficiaryId) / LEDGER_LIMITS.BUCKET_ENTRIES)}}`;
}

export function fieldOf(beneficiaryId: string | number): string {
  return String(Number(beneficiaryId) % LEDGER_LIMITS.BUCKET_ENTRIES);
}

export const epochKey = (campaign: string) => `e:{${campaign}}:epoch`;
export const rebuildLockKey = (campaign: string) => `e:{${campaign}}:rebuild`;
export const CAMPAIGNS_CHANNEL = 'ledger:campaigns';

/** The Redis value of a payout as PostgreSQL has it. */
export function valueOf(p: { state: PayoutState; entitledMinor: number; paidMinor: number; updatedAt: Date }): number {
  if (p.state === 'AVAILABLE') return p.entitledMinor - p.paidMinor;
  if (p.state === 'PAID') return 0;
  return -Math.floor(p.updatedAt.getTime() / 1000);
}

const CHECK_EPOCH = `if redis.call('HGET', KEYS[1], '${EPOCH_FIELD}') ~= ARGV[1] then return 'NOT_READY' end\n`;
// reserve answers a pair: its verdict and the value it saw (or wrote, on OK).
const CHECK_EPOCH_PAIR = `if redis.call('HGET', KEYS[1], '${EPOCH_FIELD}') ~= ARGV[1] then return {'NOT_READY', false} end\n`;

const SCRIPTS = {
  // ARGV: epoch, field, amount, now (unix s), lease (s). PostgreSQL said AVAILABLE with `amount` remaining.
  ledgerReserve: CHECK_EPOCH_PAIR + `
local raw = redis.call('HGET', KEYS[1], ARGV[2])
local amount = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local v = amount -- absent: imported after the bucket was loaded, PostgreSQL's word is all there is
if raw then v = tonumber(raw) end
if v < 0 then
  if now + v < tonumber(ARGV[5]) then return {'RESERVED', raw} end
  -- older than the lease while PostgreSQL says AVAILABLE: it never reached PostgreSQL, take it over
elseif v == 0 then
  return {'PAID', raw}
elseif v ~= amount then
  return {'AMOUNT', raw}
end
redis.call('HSET', KEYS[1], ARGV[2], -now)
return {'OK', tostring(-now)}`,
  // ARGV: epoch, field. The withdrawal is confirmed: nothing remains.
  ledgerConfirm: CHECK_EPOCH + `
redis.call('HSET', KEYS[1], ARGV[2], 0)
return 'OK'`,
  // ARGV: epoch, field, amount. A full reversal re-opens the whole amount the withdrawal took.
  ledgerRelease: CHECK_EPOCH + `
redis.call('HSET', KEYS[1], ARGV[2], tonumber(ARGV[3]))
return 'OK'`,
  // ARGV: epoch, field, amount, dispensed. Keeps what was dispensed as paid and re-opens the rest.
  ledgerReleasePartial: CHECK_EPOCH + `
local rest = tonumber(ARGV[3]) - tonumber(ARGV[4])
if rest < 0 then return redis.error_reply('dispensed more than the amount') end
redis.call('HSET', KEYS[1], ARGV[2], rest)
return 'OK'`,
  // ARGV: epoch, field, expected ('' = absent), value. Compare-and-set: undo our own reservation, or repair a value
  // that PostgreSQL contradicts, without clobbering a change someone made meanwhile.
  ledgerCas: CHECK_EPOCH + `
local v = redis.call('HGET', KEYS[1], ARGV[2])
if (v or '') ~= ARGV[3] then return 'CHANGED' end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[4])
return 'OK'`,
  // KEYS: lock. ARGV: token. Releases the lock only if it is still ours.
  ledgerUnlock: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
} as const;

export type ReserveResult = 'OK' | 'RESERVED' | 'PAID' | 'AMOUNT' | 'NOT_READY';
export interface Reserved {
  status: ReserveResult;
  value: string | null;
}
type ScriptResult = 'OK' | 'NOT_READY' | 'CHANGED';

type ScriptFn = (key: string, ...args: (string | number)[]) => Promise<string>;

/** The Redis side of the ledger. Scripts are loaded once per connection (EVALSHA, falling back to EVAL). */
export class Reservations {
  private readonly call: Record<keyof typeof SCRIPTS, ScriptFn>;

  constructor(readonly redis: Redis) {
    const anyRedis = redis as unknown as Record<string, ScriptFn>;
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      if (typeof anyRedis[name] !== 'function') redis.defineCommand(name, { numberOfKeys: 1, lua });
    }
    // The reservations of many requests in one turn (one socket read may hold several) share one write.
    const corkedCall = (fn: ScriptFn): ScriptFn => (key, ...args) => {
      corkTurn(redis);
      return fn.call(redis, key, ...args);
    };
    this.call = Object.fromEntries(Object.keys(SCRIPTS).map((n) => [n, corkedCall(anyRedis[n]!)])) as Record<keyof typeof SCRIPTS, ScriptFn>;
  }

  /** `value` is what the entitlement holds: on OK the reservation just written, to undo exactly that one with cas(). */
  async reserve(campaign: string, beneficiaryId: string, epoch: string, amountMinor: number, now: Date): Promise<Reserved> {
    const nowS = Math.floor(now.getTime() / 1000);
    const [status, value] = (await this.call.ledgerReserve(
      bucketKey(campaign, beneficiaryId), epoch, fieldOf(beneficiaryId), amountMinor, nowS,
      Math.ceil(LEDGER_LIMITS.RESERVATION_LEASE_MS / 1000),
    )) as unknown as [ReserveResult, string | null];
    return { status, value: value ?? null };
  }

  async confirm(campaign: string, beneficiaryId: string, epoch: string): Promise<ScriptResult> {
    return (await this.call.ledgerConfirm(bucketKey(campaign, beneficiaryId), epoch, fieldOf(beneficiaryId))) as ScriptResult;
  }

  async release(campaign: string, beneficiaryId: string, epoch: string, amountMinor: number): Promise<ScriptResult> {
    return (await this.call.ledgerRelease(bucketKey(campaign, beneficiaryId), epoch, fieldOf(beneficiaryId), amountMinor)) as ScriptResult;
  }

  async releasePartial(campaign: string, beneficiaryId: string, epoch: string, amountMinor: number, dispensedMinor: number): Promise<ScriptResult> {
    return (await this.call.ledgerReleasePartial(
      bucketKey(campaign, beneficiaryId), epoch, fieldOf(beneficiaryId), amountMinor, dispensedMinor,
    )) as ScriptResult;
  }

  async cas(campaign: string, beneficiaryId: string, epoch: string, expected: string | null, value: number | string): Promise<ScriptResult> {
    return (await this.call.ledgerCas(
      bucketKey(campaign, beneficiaryId), epoch, fieldOf(beneficiaryId), expected ?? '', String(value),
    )) as ScriptResult;
  }

  /** The raw value (for repairs and tests); null when absent. */
  async value(campaign: string, beneficiaryId: string): Promise<string | null> {
    return this.redis.hget(bucketKey(campaign, beneficiaryId), fieldOf(beneficiaryId));
  }

  async epoch(campaign: string): Promise<string | null> {
    return this.redis.get(epochKey(campaign));
  }

  /**
   * Writes whole buckets: each one HSET with its epoch, so a bucket is never seen half loaded.
   * `rows` must be grouped by bucket (ordered by beneficiary id).
   */
  async loadBuckets(campaign: string, epoch: string, rows: Iterable<{ id: string; value: number }>): Promise<number> {
    let pipeline = this.redis.pipeline();
    let inPipeline = 0;
    let buckets = 0;
    let current: string | null = null;
    let args: (string | number)[] = [];
    const pending: Promise<unknown>[] = [];
    const close = () => {
      if (current === null) return;
      pipeline.hset(current, EPOCH_FIELD, epoch, ...args);
      buckets++;
      if (++inPipeline >= LEDGER_LIMITS.REBUILD_PIPELINE_BUCKETS) {
        pending.push(pipeline.exec().then(check));
        pipeline = this.redis.pipeline();
        inPipeline = 0;
      }
    };
    for (const r of rows) {
      const key = bucketKey(campaign, r.id);
      if (key !== current) {
        close();
        current = key;
        args = [];
      }
      args.push(fieldOf(r.id), r.value);
    }
    close();
    if (inPipeline > 0) pending.push(pipeline.exec().then(check));
    await Promise.all(pending);
    return buckets;
  }

  async setEpoch(campaign: string, epoch: string): Promise<void> {
    await this.redis.set(epochKey(campaign), epoch);
  }

  async lock(campaign: string, token: string): Promise<boolean> {
    return (await this.redis.set(rebuildLockKey(campaign), token, 'PX', LEDGER_LIMITS.REBUILD_LOCK_MS, 'NX')) === 'OK';
  }

  async unlock(campaign: string, token: string): Promise<void> {
    await this.call.ledgerUnlock(rebuildLockKey(campaign), token);
  }
}

function check(results: [Error | null, unknown][] | null): void {
  for (const [err] of results ?? []) if (err) throw err;
}
