import { Redis, type RedisOptions } from 'ioredis';
import { LIMITS } from './config.ts';

/**
 * A Redis client that fails fast: commands issued while disconnected are rejected at once instead of queued,
 * and every command has a bound, so the money path can answer 91 within a second and recover by itself.
 */
export function createRedis(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 1_000,
    commandTimeout: LIMITS.STORE_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(50 * attempt, 1_000),
    lazyConnect: false,
    ...extra,
  });
}

const corked = new WeakSet<object>();

/**
 * Commands issued in one event-loop turn leave in one write: the connection is corked at the first and uncorked when
 * the turn ends. This instead of ioredis' auto-pipelining, which gathers them too but keeps what every command
 * touched alive across young-generation collections (measured with ioredis alone at 6,000 scripts/s: 13 MB
 * surviving each scavenge, 13-23 ms pauses; corked: 0.1 MB, ~1.4 ms, and the least CPU of the three).
 */
export function corkTurn(redis: Redis): void {
  const stream = redis.stream;
  if (redis.status !== 'ready' || !stream || corked.has(stream)) return;
  corked.add(stream);
  stream.cork();
  process.nextTick(() => {
    corked.delete(stream);
    stream.uncork();
  });
}
