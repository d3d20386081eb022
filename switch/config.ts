// Configuration from the environment (operations.md), and the limits every part of the switch obeys.
// Limits are named constants with units so that a reader can see every bound in one place.

export const DEV_IDENTITY_KEY = 'dev-only-identity-key-do-not-use-in-production';

export interface Config {
  databaseUrl: string;
  redisUrl: string;
  switchPort: number;
  adminPort: number;
  identityKey: string;
  identityKeyIsDefault: boolean;
  /** TLS for the ISO 8583 listener (partner-interface §8): all three files, or none (plain TCP, development only). */
  tls: { certFile: string; keyFile: string; clientCaFile: string } | null;
}

function port(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a TCP port (0-65535), got "${value}"`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const identityKey = env.IDENTITY_KEY ?? '';
  const tlsFiles = [env.TLS_CERT_FILE, env.TLS_KEY_FILE, env.TLS_CLIENT_CA_FILE];
  if (tlsFiles.some(Boolean) && !tlsFiles.every(Boolean)) {
    throw new Error('TLS needs all of TLS_CERT_FILE, TLS_KEY_FILE and TLS_CLIENT_CA_FILE, or none of them');
  }
  return {
    databaseUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/entitlement',
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379/0',
    switchPort: port('SWITCH_PORT', env.SWITCH_PORT, 8583),
    adminPort: port('ADMIN_PORT', env.ADMIN_PORT, 8080),
    identityKey: identityKey || DEV_IDENTITY_KEY,
    identityKeyIsDefault: identityKey === '',
    tls: env.TLS_CERT_FILE ? { certFile: env.TLS_CERT_FILE, keyFile: env.TLS_KEY_FILE!, clientCaFile: env.TLS_CLIENT_CA_FILE! } : null,
  };
}

/** Every bound of the switch. Names carry their unit. */
export const LIMITS = {
  /** partner-interface §2: a longer announced length closes the connection. */
  MAX_FRAME_BYTES: 2048,
  MAX_CONNECTIONS: 512,
  MAX_IN_FLIGHT_PER_CONNECTION: 64,
  /** Bytes queued for a slow reader before the connection is closed. */
  MAX_WRITE_BUFFER_BYTES: 1024 * 1024,
  ECHO_INTERVAL_MS: 60_000,
  MISSED_ECHOES_BEFORE_CLOSE: 3,
  /** A frame whose first byte arrived must be complete within this time. */
  READ_TIMEOUT_MS: 30_000,
  /** A connection with no traffic at all (not even echo answers) for this long is closed. */
  IDLE_TIMEOUT_MS: 240_000,
  SHUTDOWN_DRAIN_MS: 10_000,
  /** How often each instance re-reads the banks its connections signed on as (a removal or a new MAC key takes effect). */
  BANK_RECHECK_INTERVAL_MS: 5_000,
  /** Redis and PostgreSQL calls on the money path: fail closed (91) well within a second. */
  STORE_TIMEOUT_MS: 800,
} as const;
