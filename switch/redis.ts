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
