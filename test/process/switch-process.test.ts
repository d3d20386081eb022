// `npm run switch` as a new user meets it: the real process, spoken to by a client the project did not write.
import test from 'ava';
import net from 'node:net';
import { freshDatabase, freshRedis, type TestDatabase, type TestRedis } from '../helpers/services.ts';
import { startSwitch } from '../helpers/switch-process.ts';
import { referenceDecode, referenceEncode } from '../iso8583/reference-codec.ts';
import { addBank } from '../../switch/banks.ts';

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
