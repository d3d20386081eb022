// partner-interface §8: TLS with a client certificate per bank; the certificate's bank code must equal DE32.
import test from 'ava';
import { freshDatabase, type TestDatabase } from '../helpers/services.ts';
import { IsoClient } from '../helpers/iso-client.ts';
import { makePki, type TestPki } from '../helpers/certs.ts';
import { goldenFrame } from '../helpers/golden.ts';
import { addBank, findActiveBank } from '../../switch/banks.ts';
import { LinkServer } from '../../switch/link/server.ts';
import { silentLogger } from '../../switch/log.ts';

let tdb: TestDatabase;
let pki: TestPki;
let server: LinkServer;
let port: number;

test.before(async () => {
  tdb = await freshDatabase();
  await addBank(tdb.db, '004', 'Bank of Taiwan');
  await addBank(tdb.db, '700', 'Chunghwa Post');
  pki = makePki();
  server = new LinkServer({
    findBank: (c) => findActiveBank(tdb.db, c),
    handlers: {},
    logger: silentLogger,
    tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca },
  });
  port = (await server.listen(0, '127.0.0.1')).port;
});
test.after.always(async () => {
  await server?.close(100);
  pki?.dispose();
  await tdb?.drop();
});

const signOn = (bank: string) => ({ mti: '0800', fields: { 7: '1203081500', 11: '000001', 32: bank, 70: '001' } });

test('a bank signs on over TLS with its own client certificate', async (t) => {
  const c = await IsoClient.connectTls(port, { ca: pki.ca, ...pki.client('004') });
  t.teardown(() => c.close());
  c.send(signOn('004'));
  t.is((await c.next()).fields[39], '00');
  c.sendRaw(goldenFrame('echo'));
  t.is((await c.next()).fields[70], '301');
});

test('a certificate for bank 004 cannot sign on as bank 700 (58), even though 700 is registered', async (t) => {
  const c = await IsoClient.connectTls(port, { ca: pki.ca, ...pki.client('004') });
  t.teardown(() => c.close());
  c.send(signOn('700'));
  t.is((await c.next()).fields[39], '58');
  c.sendRaw(goldenFrame('withdrawal'));
  t.is((await c.next()).fields[44], 'NOT_SIGNED_ON');
});

test('a client without a certificate, or with one from another CA, never gets a session', async (t) => {
  for (const options of [{ ca: pki.ca }, { ca: pki.ca, ...pki.stranger }]) {
    const c = await IsoClient.connectTls(port, options).catch(() => null);
    if (c) {
      // TLS 1.3 reports the refusal after the client's handshake completes: the connection is closed unanswered.
      c.sendRaw(goldenFrame('echo'));
      t.true(await c.waitClosed(), 'closed by the switch');
      t.is(c.received.length, 0);
    } else t.pass('refused during the handshake');
  }
});

test('plain TCP is not accepted on a TLS listener', async (t) => {
  const c = await IsoClient.connect(port);
  c.sendRaw(goldenFrame('echo'));
  t.true(await c.waitClosed());
  t.is(c.received.length, 0);
});
