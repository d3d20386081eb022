// The README's "run it" command, end to end on a small scale: it must pass on a fresh machine as it does here.
import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { ADMIN_DATABASE_URL, freshRedis } from '../helpers/services.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('npm run demo sets everything up, certifies, runs ATMs, reconciles, and exits 0', async (t) => {
  const redis = await freshRedis();
  const name = `ent_demo_${randomBytes(4).toString('hex')}`;
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = '/' + name;
  t.teardown(async () => {
    await redis.release();
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/main.ts', '--people', '300', '--terminals', '4', '--duration-s', '2'], {
    cwd: ROOT,
    env: { ...process.env, DEMO_DATABASE_URL: url.toString(), DEMO_REDIS_URL: redis.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.is(code, 0, out);
  t.regex(out, /certification: (\d+) of \1 cases passed/);
  t.regex(out, /reconciliation: ATMs dispensed NT\$[\d,]+, ledger paid NT\$[\d,]+: equal/);
  t.regex(out, /demo passed/);
  // The demo prints no personal data: no ID number in clear.
  t.notRegex(out, /\b[A-Z][12]\d{8}\b/);
});
