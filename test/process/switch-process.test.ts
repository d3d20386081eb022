// `npm run switch` as a new user meets it: the real process, spoken to by a client the project did not write.
import test from 'ava';
import net from 'node:net';
import { freshDatabase, freshRedis, type TestDatabase, type TestRedis } from '../helpers/services.ts';
import { startSwitch } from '../helpers/switch-process.ts';
import { referenceDecode, referenceEncode } from '../iso8583/reference-codec.ts';
import { addBank } from '../../switch/banks.ts';
import { makePki } from '../helpers/certs.ts';
import { IsoClient } from '../helpers/iso-client.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let tdb: TestDatabase;
let tredis: TestRedis;
test.before(async () => {
  tdb = await freshDatabase();
  tredis = await freshRedis();
  await addBank(tdb.db, '004', 'Bank of Taiwan');
});
test.after.always(async () => {
  await tdb?.drop();
  await tredis?.release();
});

function exchange(port: number, frameBytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(frameBytes));
    let buf = Buffer.alloc(0);
    s.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        s.destroy();
        resolve(buf.subarray(0, 2 + buf.readUInt16BE(0)));
      }
    });
    s.on('error', reject);
  });
}

test('the switch process answers an echo and a sign-on built by an independent ISO 8583 implementation', async (t) => {
  const sw = await startSwitch({ DATABASE_URL: tdb.url, REDIS_URL: tredis.url });
  try {
    const echo = referenceDecode(await exchange(sw.isoPort, referenceEncode('0800', { 7: '1203081600', 11: '000002', 70: '301' })));
    t.is(echo[`mti`], '0810');
    t.is(echo.fields['39'], '00');
    t.is(echo.fields['11'], '000002');
    const signOn = referenceDecode(await exchange(sw.isoPort, referenceEncode('0800', { 7: '1203081500', 11: '000001', 32: '004', 70: '001' })));
    t.is(signOn.fields['39'], '00');
    const unknown = referenceDecode(await exchange(sw.isoPort, referenceEncode('0800', { 7: '1203081500', 11: '000001', 32: '998', 70: '001' })));
    t.is(unknown.fields['39'], '58');
  } finally {
    await sw.stop('SIGKILL');
  }
});

test('on SIGTERM the switch stops accepting, drains and exits 0', async (t) => {
  const sw = await startSwitch({ DATABASE_URL: tdb.url, REDIS_URL: tredis.url });
  const code = await sw.stop('SIGTERM');
  t.is(code, 0, sw.lines.join('\n'));
  t.true(sw.lines.some((l) => l.includes('"stopped"')));
  await t.throwsAsync(() => exchange(sw.isoPort, referenceEncode('0800', { 7: '1203081600', 11: '000002', 70: '301' })));
});

test('the switch warns at start when IDENTITY_KEY is not set, and never prints the key it was given', async (t) => {
  const dev = await startSwitch({ DATABASE_URL: tdb.url, REDIS_URL: tredis.url, IDENTITY_KEY: '' });
  await dev.stop('SIGTERM');
  t.true(dev.lines.some((l) => l.includes('IDENTITY_KEY is not set')));
  const prod = await startSwitch({ DATABASE_URL: tdb.url, REDIS_URL: tredis.url, IDENTITY_KEY: 'a-real-secret-7f3a9c' });
  await prod.stop('SIGTERM');
  t.false(prod.lines.some((l) => l.includes('IDENTITY_KEY is not set')));
  t.false(prod.lines.some((l) => l.includes('a-real-secret-7f3a9c')));
});

test('with TLS_CERT_FILE, TLS_KEY_FILE and TLS_CLIENT_CA_FILE the switch speaks TLS only, to certified banks', async (t) => {
  const pki = makePki();
  const dir = mkdtempSync(path.join(tmpdir(), 'switch-tls-'));
  t.teardown(() => {
    pki.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = (name: string, data: Buffer) => (writeFileSync(path.join(dir, name), data), path.join(dir, name));
  const sw = await startSwitch({
    DATABASE_URL: tdb.url,
    REDIS_URL: tredis.url,
    TLS_CERT_FILE: file('server.crt', pki.server.cert),
    TLS_KEY_FILE: file('server.key', pki.server.key),
    TLS_CLIENT_CA_FILE: file('ca.crt', pki.ca),
  });
  t.teardown(() => sw.stop('SIGKILL'));
  t.false(sw.lines.some((l) => l.includes('TLS is off')));
  const c = await IsoClient.connectTls(sw.isoPort, { ca: pki.ca, ...pki.client('004') });
  c.send({ mti: '0800', fields: { 7: '1203081500', 11: '000001', 32: '004', 70: '001' } });
  t.is((await c.next()).fields[39], '00');
  c.close();
});

test('half a TLS configuration stops the switch at start with one line', async (t) => {
  const run = promisify(execFile);
  const e = await t.throwsAsync(
    run(process.execPath, ['--import', 'tsx', 'switch/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: tdb.url, REDIS_URL: tredis.url, SWITCH_PORT: '0', ADMIN_PORT: '0', TLS_CERT_FILE: '/nonexistent.crt' },
    }),
  );
  const stderr = (e as unknown as { stderr: string }).stderr;
  t.is(stderr.trim().split('\n').length, 1);
  t.regex(stderr, /TLS needs all of TLS_CERT_FILE, TLS_KEY_FILE and TLS_CLIENT_CA_FILE/);
});
