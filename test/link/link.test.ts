import test from 'ava';
import { freshDatabase, type TestDatabase } from '../helpers/services.ts';
import { IsoClient } from '../helpers/iso-client.ts';
import { golden, goldenBody, goldenFrame, GOLDEN_MAC_KEY } from '../helpers/golden.ts';
import { addBank, findActiveBank, removeBank } from '../../switch/banks.ts';
import { LinkServer } from '../../switch/link/server.ts';
import type { RequestHandler } from '../../switch/link/session.ts';
import { silentLogger } from '../../switch/log.ts';
import type { IsoMessage } from '../../switch/iso8583/message.ts';
import { encode } from '../../switch/iso8583/codec.ts';
import { frame } from '../../switch/iso8583/framing.ts';
import { signMessage, verifyMac } from '../../switch/iso8583/mac.ts';
import { respond } from '../../switch/handlers/respond.ts';
import { ManualClock } from '../../switch/clock.ts';
import { createAdmin } from '../../switch/admin/server.ts';

let tdb: TestDatabase;
test.before(async () => {
  tdb = await freshDatabase();
  await addBank(tdb.db, '004', 'Bank of Taiwan');
  await addBank(tdb.db, '700', 'Chunghwa Post', GOLDEN_MAC_KEY);
  await addBank(tdb.db, '812', 'Taishin');
  await removeBank(tdb.db, '812');
});
test.after.always(async () => {
  await tdb?.drop();
});

const msgOf = (name: string): IsoMessage => {
  const g = golden(name);
  return { mti: g.mti, fields: Object.fromEntries(Object.entries(g.fields).map(([k, v]) => [Number(k), v])) };
};

type T = { teardown(fn: () => unknown): void };

/** A link server for one test; it (and every client the test opens) is closed even when the test fails. */
async function start(t: T, opts: ConstructorParameters<typeof LinkServer>[0]['options'] = {}, handlers: Record<string, RequestHandler> = {}, maxConnections?: number) {
  const server = new LinkServer({ findBank: (c) => findActiveBank(tdb.db, c), handlers, logger: silentLogger, options: opts, maxConnections });
  const { port } = await server.listen(0, '127.0.0.1');
  t.teardown(() => server.close(100));
  return { server, port };
}

async function signedOn(port: number, bank = '004', key?: Buffer): Promise<IsoClient> {
  const c = await IsoClient.connect(port);
  c.send({ mti: '0800', fields: { 7: '1203081500', 11: '000001', 32: bank, 70: '001' } }, key);
  const r = await c.next();
  if (r.fields[39] !== '00') throw new Error(`sign-on refused: ${r.fields[39]}`);
  return c;
}

test('answers the golden sign-on with exactly the golden sign-on response', async (t) => {
  const { server, port } = await start(t);
  const c = await IsoClient.connect(port);
  c.sendRaw(goldenFrame('signon'));
  const r = await c.next();
  t.is(encode(r).toString('hex'), goldenBody('signon-ok').toString('hex'));
  c.close();
  await server.close(100);
});

test('refuses sign-on with 58 when DE32 is not a registered bank or the bank is inactive', async (t) => {
  const { server, port } = await start(t);
  const c = await IsoClient.connect(port);
  for (const bank of ['999', '812']) {
    c.send({ mti: '0800', fields: { 7: '1203081500', 11: '000001', 32: bank, 70: '001' } });
    const r = await c.next();
    t.is(r.mti, '0810');
    t.is(r.fields[39], '58', `bank ${bank}`);
  }
  // Still not signed on: financial traffic gets 91.
  c.sendRaw(goldenFrame('withdrawal'));
  t.is((await c.next()).fields[39], '91');
  c.close();
  await server.close(100);
});

test('answers an echo at any time, even before sign-on', async (t) => {
  const { server, port } = await start(t);
  const c = await IsoClient.connect(port);
  c.sendRaw(goldenFrame('echo'));
  const r = await c.next();
  t.is(r.mti, '0810');
  t.is(r.fields[39], '00');
  t.is(r.fields[70], '301');
  t.is(r.fields[11], '000002');
  c.close();
  await server.close(100);
});

test('a financial request before sign-on gets 91 NOT_SIGNED_ON', async (t) => {
  const { server, port } = await start(t);
  const c = await IsoClient.connect(port);
  c.sendRaw(goldenFrame('withdrawal'));
  const r = await c.next();
  t.is(r.mti, '0210');
  t.is(r.fields[39], '91');
  t.is(r.fields[44], 'NOT_SIGNED_ON');
  t.is(r.fields[11], '000042');
  c.close();
  await server.close(100);
});

test('after sign-off, financial requests get 91 again', async (t) => {
  const { server, port } = await start(t);
  const c = await signedOn(port);
  c.send({ mti: '0800', fields: { 7: '1203081500', 11: '000003', 70: '002' } });
  t.is((await c.next()).fields[39], '00');
  c.sendRaw(goldenFrame('withdrawal'));
  t.is((await c.next()).fields[44], 'NOT_SIGNED_ON');
  c.close();
  await server.close(100);
});

test('a bank removed while signed on is signed off at the next bank check: 91 from then on, and its new sign-on gets 58', async (t) => {
  await addBank(tdb.db, '813', 'Removed while signed on');
  const { server, port } = await start(t);
  const c = await signedOn(port, '813');
  c.sendRaw(goldenFrame('withdrawal'));
  t.is((await c.next()).fields[39], '96', 'signed on (no ledger here: 96)');
  await server.recheckBanks();
  c.sendRaw(goldenFrame('withdrawal'));
  t.is((await c.next()).fields[39], '96', 'still active: still signed on');
  await removeBank(tdb.db, '813');
  await server.recheckBanks();
  c.sendRaw(goldenFrame('withdrawal'));
  t.is((await c.next()).fields[44], 'NOT_SIGNED_ON');
  c.send({ mti: '0800', fields: { 7: '1203081500', 11: '000002', 32: '813', 70: '001' } });
  t.is((await c.next()).fields[39], '58');
  c.close();
  await server.close(100);
});

test('a MAC key changed while signed on is used from the next bank check: the old key gets 63', async (t) => {
  const oldKey = Buffer.alloc(16, 0x11);
  const newKey = Buffer.alloc(16, 0x22);
  await addBank(tdb.db, '814', 'Rekeyed', oldKey);
  const { server, port } = await start(t);
  const c = await signedOn(port, '814', oldKey);
  await addBank(tdb.db, '814', 'Rekeyed', newKey);
  c.send(msgOf('withdrawal'), oldKey);
  t.is((await c.next()).fields[39], '96', 'before the check the connection still holds the old key');
  await server.recheckBanks();
  c.send(msgOf('withdrawal'), oldKey);
  t.is((await c.next()).fields[39], '63');
  c.send(msgOf('withdrawal'), newKey);
  t.is((await c.next()).fields[39], '96');
  c.close();
  await server.close(100);
});

test('when the banks cannot be read, the bank check signs nobody off', async (t) => {
  let down = false;
  const server = new LinkServer({
    findBank: (c) => (down ? Promise.reject(new Error('connection refused')) : findActiveBank(tdb.db, c)),
    handlers: {},
    logger: silentLogger,
  });
  const { port } = await server.listen(0, '127.0.0.1');
  t.teardown(() => server.close(100));
  const c = await signedOn(port, '004');
  down = true;
  await server.recheckBanks();
  c.sendRaw(goldenFrame('withdrawal'));
  t.is((await c.next()).fields[39], '96');
  c.close();
  await server.close(100);
});

test('the ops API shows how long financial requests took, per MTI; sign-ons and the link\'s own declines are not counted', async (t) => {
  const approve: RequestHandler = async (req) => respond(req, 'APPROVED');
  const { server, port } = await start(t, {}, { '0200': approve, '0420': approve });
  const admin = createAdmin({ link: server, db: tdb.db, checks: {} });
  t.teardown(() => admin.close());
  const early = await IsoClient.connect(port);
  early.sendRaw(goldenFrame('withdrawal'));
  t.is((await early.next()).fields[44], 'NOT_SIGNED_ON');
  const c = await signedOn(port);
  for (const name of ['withdrawal', 'withdrawal', 'partial-reversal']) {
    c.sendRaw(goldenFrame(name));
    t.is((await c.next()).fields[39], '00', name);
  }
  const body = (await admin.inject({ url: '/v1/latency' })).json();
  t.deepEqual(Object.keys(body.by_mti).sort(), ['0200', '0420']);
  t.is(body.by_mti['0200'].count, 2);
  t.is(body.by_mti['0420'].count, 1);
  const w = body.by_mti['0200'];
  t.true(w.p50_ms > 0 && w.p50_ms <= w.p99_ms, JSON.stringify(w));
  t.is(w.counts.length, body.bucket_bounds_ms.length + 1);
  t.is(w.counts.reduce((a: number, b: number) => a + b, 0), 2);
  early.close();
  c.close();
  await server.close(100);
});

test('a connection signed on as one bank cannot sign on as another (58)', async (t) => {
  const { server, port } = await start(t);
  const c = await signedOn(port, '004');
  c.send({ mti: '0800', fields: { 7: '1203081500', 11: '000004', 32: '700', 70: '001' } }, GOLDEN_MAC_KEY);
  // 700 has a MAC key; the connection still speaks as 004 (no key), so the answer is 58, unMACed.
  t.is((await c.next()).fields[39], '58');
  c.close();
  await server.close(100);
});

test('without a ledger nothing is approved: a withdrawal after sign-on gets 96', async (t) => {
  const { server, port } = await start(t);
  const c = await signedOn(port);
  for (const name of ['withdrawal', 'confirmation', 'partial-reversal', 'reversal-repeat']) {
    c.sendRaw(goldenFrame(name));
    const r = await c.next();
    t.is(r.fields[39], '96', name);
    t.is(r.fields[44], 'SYSTEM');
  }
  c.close();
  await server.close(100);
});

test('a 0200 without DE48 gets its response MTI with 39=30 FORMAT', async (t) => {
  const { server, port } = await start(t);
  const c = await signedOn(port);
  const m = msgOf('withdrawal');
  delete m.fields[48];
  c.send(m);
  const r = await c.next();
  t.is(r.mti, '0210');
  t.is(r.fields[39], '30');
  t.is(r.fields[44], 'FORMAT');
  c.close();
  await server.close(100);
});

test('a 0200 whose DE48 lacks ID, or has a malformed NH, gets 30', async (t) => {
  const { server, port } = await start(t);
  const c = await signedOn(port);
  for (const de48 of ['NH012000012345678', 'NH0110000123456ID010A123456789', 'NH012000012345678ID010a123456789', 'NH01']) {
    const m = msgOf('withdrawal');
    m.fields[48] = de48;
    c.send(m);
    t.is((await c.next()).fields[39], '30', de48);
  }
  c.close();
  await server.close(100);
});

test('format is checked before sign-on: a malformed 0200 before sign-on gets 30, not 91', async (t) => {
  const { server, port } = await start(t);
  const c = await IsoClient.connect(port);
  const m = msgOf('withdrawal');
  m.fields[13] = '1340';
  c.send(m);
  t.is((await c.next()).fields[39], '30');
  c.close();
  await server.close(100);
});

test('a 0420 whose DE95 dispensed more than DE4 gets 0430 with 30', async (t) => {
  const { server, port } = await start(t);
  const c = await signedOn(port);
  const m = msgOf('partial-reversal');
  m.fields[95] = '000000700000' + '0'.repeat(30);
  c.send(m);
  const r = await c.next();
  t.is(r.mti, '0430');
  t.is(r.fields[39], '30');
  c.close();
  await server.close(100);
});

test('a field that breaks its format (non-digit in DE11) gets 30 with the fields decoded before it', async (t) => {
  const { server, port } = await start(t);
  const c = await signedOn(port);
  const body = Buffer.from(goldenBody('withdrawal'));
  const stanAt = body.indexOf(Buffer.from('000042'));
  body.write('0X', stanAt + 4, 'latin1');
  c.sendRaw(frame(body));
  const r = await c.next();
  t.is(r.mti, '0210');
  t.is(r.fields[39], '30');
  t.is(r.fields[3], '010000');
  c.close();
  await server.close(100);
});

test('an undecodable frame is dropped and the connection stays up', async (t) => {
  const { server, port } = await start(t);
  const c = await IsoClient.connect(port);
  c.sendRaw(frame(Buffer.from('XYZ')));
  c.sendRaw(frame(Buffer.from('08')));
  c.sendRaw(goldenFrame('echo'));
  const r = await c.next();
  t.is(r.fields[70], '301');
  t.is(c.received.length, 0);
  t.false(c.closed);
  c.close();
  await server.close(100);
});

test('zero-length keep-alives are ignored', async (t) => {
  const { server, port } = await start(t);
  const c = await IsoClient.connect(port);
  c.sendRaw(Buffer.concat([Buffer.alloc(2), Buffer.alloc(2), goldenFrame('echo'), Buffer.alloc(2)]));
  t.is((await c.next()).fields[39], '00');
  const session = [...server.sessions][0]!;
  t.is(session.stats.keepAlives, 3);
  c.close();
  await server.close(100);
});

test('an announced length above 2,048 bytes closes that connection only', async (t) => {
  const { server, port } = await start(t);
  const other = await IsoClient.connect(port);
  const c = await IsoClient.connect(port);
  c.sendRaw(Buffer.from([0x08, 0x01]));
  t.true(await c.waitClosed());
  other.sendRaw(goldenFrame('echo'));
  t.is((await other.next()).fields[39], '00');
  other.close();
  await server.close(100);
});

test('a frame split across reads and several frames in one read are all answered', async (t) => {
  const { server, port } = await start(t);
  const c = await IsoClient.connect(port);
  const both = Buffer.concat([goldenFrame('echo'), goldenFrame('signon')]);
  c.sendRaw(both.subarray(0, 7));
  await new Promise((r) => setTimeout(r, 20));
  c.sendRaw(both.subarray(7));
  const a = await c.next();
  const b = await c.next();
  t.deepEqual([a.fields[70], b.fields[70]].sort(), ['001', '301']);
  c.close();
  await server.close(100);
});

test('MAC: the golden MACed withdrawal from a bank with a key reaches the handler', async (t) => {
  const seen: IsoMessage[] = [];
  const handler: RequestHandler = async (req) => {
    seen.push(req);
    return respond(req, 'APPROVED');
  };
  const { server, port } = await start(t, {}, { '0200': handler, '0420': handler });
  const c = await signedOn(port, '700', GOLDEN_MAC_KEY);
  // The golden frames carry DE32 004; the MAC is the connection's bank key, DE32 mismatch is the ledger's concern.
  c.sendRaw(goldenFrame('withdrawal-mac'));
  const r = await c.next();
  t.is(r.fields[39], '00');
  t.is(seen.length, 1);
  c.sendRaw(goldenFrame('reversal-mac'));
  t.is((await c.next()).fields[39], '00');
  t.is(seen.length, 2);
  c.close();
  await server.close(100);
});

test('MAC: every response to a bank with a key carries a valid MAC', async (t) => {
  const { server, port } = await start(t);
  const c = await signedOn(port, '700', GOLDEN_MAC_KEY);
  c.send(msgOf('echo'), GOLDEN_MAC_KEY);
  await c.next();
  c.sendRaw(goldenFrame('withdrawal-mac'));
  await c.next();
  t.is(c.received.length, 0);
  // Re-read the raw bytes: both the sign-on and the later responses were MACed.
  const c2 = await IsoClient.connect(port);
  c2.send({ mti: '0800', fields: { 7: '1203081500', 11: '000001', 32: '700', 70: '001' } }, GOLDEN_MAC_KEY);
  const deadline = Date.now() + 5000;
  while (c2.received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const { body, msg } = c2.received[0]!;
  t.truthy(msg.fields[128], 'a message with DE70 has a secondary bitmap, so its MAC is DE128');
  t.is(verifyMac(body, GOLDEN_MAC_KEY), 'ok');
  c.close();
  c2.close();
  await server.close(100);
});

test('MAC: a missing or wrong MAC from a bank with a key gets 63, and the handler never runs', async (t) => {
  let calls = 0;
  const { server, port } = await start(t, {}, { '0200': async (req) => (calls++, respond(req, 'APPROVED')) });
  const c = await signedOn(port, '700', GOLDEN_MAC_KEY);
  c.sendRaw(goldenFrame('withdrawal'));
  const missing = await c.next();
  t.is(missing.fields[39], '63');
  t.is(missing.fields[44], 'MAC');
  const wrong = Buffer.from(goldenFrame('withdrawal-mac'));
  wrong[wrong.length - 1]! ^= 0x01;
  c.sendRaw(wrong);
  t.is((await c.next()).fields[39], '63');
  const tampered = Buffer.from(goldenFrame('withdrawal-mac'));
  tampered[30]! ^= 0x01; // a data byte, MAC untouched
  c.sendRaw(tampered);
  const r = await c.next();
  t.true(r.fields[39] === '63' || r.fields[39] === '30');
  t.is(calls, 0);
  c.close();
  await server.close(100);
});

test('a sign-on from a bank with a key must itself be MACed (63 otherwise)', async (t) => {
  const { server, port } = await start(t);
  const c = await IsoClient.connect(port);
  c.send({ mti: '0800', fields: { 7: '1203081500', 11: '000001', 32: '700', 70: '001' } });
  t.is((await c.next()).fields[39], '63');
  c.sendRaw(goldenFrame('withdrawal-mac'));
  t.is((await c.next()).fields[39], '91');
  c.close();
  await server.close(100);
});

test('requests on one connection are handled concurrently and answered as they complete', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const handler: RequestHandler = async (req) => {
    if (req.fields[11] === '000001') await gate;
    return respond(req, 'APPROVED');
  };
  const { server, port } = await start(t, {}, { '0200': handler });
  const c = await signedOn(port);
  const m = msgOf('withdrawal');
  c.send({ ...m, fields: { ...m.fields, 11: '000001' } });
  c.send({ ...m, fields: { ...m.fields, 11: '000002' } });
  const first = await c.next();
  t.is(first.fields[11], '000002');
  release();
  t.is((await c.next()).fields[11], '000001');
  c.close();
  await server.close(100);
});

test('no more than max in-flight requests run at once on a connection', async (t) => {
  let running = 0;
  let peak = 0;
  const handler: RequestHandler = async (req) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 5));
    running--;
    return respond(req, 'APPROVED');
  };
  const { server, port } = await start(t, { maxInFlight: 3 }, { '0200': handler });
  const c = await signedOn(port);
  const m = msgOf('withdrawal');
  for (let i = 1; i <= 20; i++) c.send({ ...m, fields: { ...m.fields, 11: String(i).padStart(6, '0') } });
  const stans = new Set<string>();
  for (let i = 0; i < 20; i++) stans.add((await c.next()).fields[11]!);
  t.is(stans.size, 20);
  t.is(peak, 3);
  c.close();
  await server.close(100);
});

test('the switch echoes an idle link, and closes one that misses 3 echoes in a row', async (t) => {
  const { server, port } = await start(t, { echoIntervalMs: 40 });
  const c = await IsoClient.connect(port);
  const echo = await c.next((m) => m.mti === '0800');
  t.is(echo.fields[70], '301');
  t.true(await c.waitClosed());
  const echoes = c.received.filter((r) => r.msg.mti === '0800').length + 1;
  t.is(echoes, 3);
  await server.close(100);
});

test('a link that answers its echoes stays up', async (t) => {
  const { server, port } = await start(t, { echoIntervalMs: 30 });
  const c = await IsoClient.connect(port);
  for (let i = 0; i < 6; i++) {
    const e = await c.next((m) => m.mti === '0800');
    c.send({ mti: '0810', fields: { 7: e.fields[7]!, 11: e.fields[11]!, 39: '00', 70: '301' } });
  }
  t.false(c.closed);
  c.close();
  await server.close(100);
});

test('a frame left incomplete past the read timeout closes the connection', async (t) => {
  const { server, port } = await start(t, { readTimeoutMs: 50 });
  const c = await IsoClient.connect(port);
  c.sendRaw(goldenFrame('echo').subarray(0, 10));
  t.true(await c.waitClosed());
  await server.close(100);
});

test('connections above the limit are refused', async (t) => {
  const { server, port } = await start(t, {}, {}, 1);
  const a = await IsoClient.connect(port);
  a.sendRaw(goldenFrame('echo'));
  await a.next();
  const b = await IsoClient.connect(port);
  t.true(await b.waitClosed());
  t.false(a.closed);
  a.close();
  await server.close(100);
});

test('on shutdown, a request in flight is still answered before the connection closes', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  const { server, port } = await start(t, {}, {
    '0200': async (req) => {
      started();
      await gate;
      return respond(req, 'APPROVED');
    },
  });
  const c = await signedOn(port);
  c.sendRaw(goldenFrame('withdrawal'));
  await running;
  const closing = server.close(5_000);
  // New connections are no longer accepted.
  await t.throwsAsync(() => IsoClient.connect(port).then((x) => x.next(undefined, 500)));
  release();
  t.is((await c.next()).fields[39], '00');
  await closing;
  t.true(await c.waitClosed());
});

test('the link\'s own 0210 declines carry DE15, the settlement date in Taipei; its 0230/0430 do not', async (t) => {
  const clock = new ManualClock('2026-12-31T16:30:00Z'); // 1 January in Taipei
  const server = new LinkServer({ findBank: (c) => findActiveBank(tdb.db, c), handlers: {}, logger: silentLogger, clock });
  const { port } = await server.listen(0, '127.0.0.1');
  t.teardown(() => server.close(100));
  const c = await IsoClient.connect(port);
  c.sendRaw(goldenFrame('withdrawal'));
  const r = await c.next();
  t.is(r.fields[39], '91');
  t.is(r.fields[15], '0101');
  c.sendRaw(goldenFrame('confirmation'));
  const a = await c.next();
  t.is(a.mti, '0230');
  t.is(a.fields[15], undefined);
  c.close();
});
