// The switch process: ISO 8583 listener, admin API and background jobs, until SIGTERM; then it drains.
import { readFileSync } from 'node:fs';
import { loadConfig, LIMITS, type Config } from './config.ts';
import { createDb } from './db.ts';
import { createRedis } from './redis.ts';
import { createLogger } from './log.ts';
import { findActiveBank } from './banks.ts';
import { LinkServer, type LinkTls } from './link/server.ts';
import { createAdmin } from './admin/server.ts';
import { createLedger } from './ledger/index.ts';
import { systemClock } from './clock.ts';

const logger = createLogger({ svc: 'switch' });
let config: Config;
let linkTls: LinkTls | undefined;
try {
  config = loadConfig();
  if (config.tls) {
    linkTls = { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile), clientCa: readFileSync(config.tls.clientCaFile) };
  }
} catch (e) {
  process.stderr.write(`switch: ${(e as Error).message.split('\n')[0]}\n`);
  process.exit(1);
}
if (!linkTls) logger.warn('TLS is off (no TLS_CERT_FILE): partner links are plain TCP, for development only');
if (config.identityKeyIsDefault) logger.warn('IDENTITY_KEY is not set: using the fixed development key (never in production)');

const db = createDb(config.databaseUrl, { min: 2, max: 20 });
// No auto-pipelining: Reservations corks the connection per event-loop turn instead (redis.ts, corkTurn).
const redis = createRedis(config.redisUrl);
redis.on('error', (e) => logger.warn('redis error', { error: e.message }));

const ledger = createLedger({ db, redis, redisUrl: config.redisUrl, clock: systemClock, identityKey: config.identityKey, logger });
const link = new LinkServer({
  findBank: (code) => findActiveBank(db, code),
  handlers: ledger.handlers,
  logger,
  tls: linkTls,
});
const admin = createAdmin({
  link,
  db,
  checks: { postgres: () => db.raw('select 1'), redis: () => redis.ping() },
  rosterCopies: () => ledger.rosterCopies(),
  stages: () => ledger.stages(),
});

// Signals are handled from the start: a SIGTERM during start-up drains too.
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info('draining', { signal, drain_ms: LIMITS.SHUTDOWN_DRAIN_MS });
  const hardStop = setTimeout(() => {
    logger.error('shutdown took too long: exiting');
    process.exit(1);
  }, LIMITS.SHUTDOWN_DRAIN_MS + 5_000);
  hardStop.unref();
  await link.close(LIMITS.SHUTDOWN_DRAIN_MS);
  await ledger.stop();
  await admin.close();
  redis.disconnect();
  await db.destroy();
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

// Redis is checked against PostgreSQL (and rebuilt if it lost anything) before the first request is taken.
await ledger.start();
const address = await link.listen(config.switchPort);
await admin.listen({ port: config.adminPort, host: '0.0.0.0' });
const adminAddress = admin.server.address();
// Tests and the demo read the ports from this line (ports 0 pick free ones).
logger.info('switch listening', {
  iso8583_port: address.port,
  admin_port: typeof adminAddress === 'object' && adminAddress ? adminAddress.port : config.adminPort,
});
