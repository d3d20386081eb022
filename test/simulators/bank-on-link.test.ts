// The bank host against the switch's real ISO 8583 listener (switch/link): sign-on, MAC, echoes both ways,
// not-signed-on refusal, sign-off. The money-path handlers here are plain functions answering from a table, so
// these tests exercise the link and the host, not the ledger (the ledger is exercised with the real stores elsewhere).
import test from 'ava';
import { silentLogger } from '../../switch/log.ts';
import { LinkServer } from '../../switch/link/server.ts';
import { respond } from '../../switch/handlers/respond.ts';
import type { Bank } from '../../switch/banks.ts';
import type { IsoMessage } from '../../switch/iso8583/index.ts';
import { BankHost } from '../../simulators/bank/host.ts';
import { tempDir } from './helpers/fixtures.ts';
import { join } from 'node:path';

const KEY = Buffer.from('2b7e151628aed2a6abf7158809cf4f3c', 'hex');
const BANKS: Record<string, Bank> = {
  '004': { code: '004', name: 'Bank 004', macKey: null, active: true },
  '700': { code: '700', name: 'Bank 700', macKey: KEY, active: true },
};

const tmp = await tempDir();
const cleanups: Array<() => Promise<unknown>> = [];
test.after.always(async () => {
  for (const c of cleanups.reverse()) await c();
  await tmp.remove();
});

async function link(echoIntervalMs = 60_000): Promise<{ server: LinkServer; port: number; seen: IsoMessage[] }> {
  const seen: IsoMessage[] = [];
  const server = new LinkServer({
    findBank: async (code) => BANKS[code] ?? null,
    handlers: {
      '0200': async (req) => (seen.push(req), respond(req, 'APPROVED', { 15: '1203', 38: 'A00001' })),
      '0220': async (req) => (seen.push(req), respond(req, 'APPROVED')),
      '0420': async (req) => (seen.push(req), respond(req, 'APPROVED')),
    },
    logger: silentLogger,
    options: { echoIntervalMs, readTimeoutMs: 60_000 },
  });
  const { port } = await server.listen(0, '127.0.0.1');
  cleanups.push(() => server.close(0));
  return { server, port, seen };
}

let n = 0;
async function bank(port: number, code: string, extra: Partial<Parameters<typeof BankHost.open>[0]> = {}): Promise<BankHost> {
  const h = await BankHost.open({
    switchHost: '127.0.0.1',
    switchPort: port,
    bankCode: code,
    queueFile: join(tmp.dir, `q${n++}.jsonl`),
    logger: silentLogger,
    request_timeout_ms: 1_000,
    echo_interval_ms: 0,
    reconnect_max_attempts: 2,
    reconnect_base_delay_ms: 10,
    ...extra,
  });
  cleanups.push(() => h.close(0));
  await h.start();
  return h;
}

const WITHDRAWAL = { processing: 'withdrawal' as const, amountTwd: 6000, nhi: '000012345678', claimantId: 'A123456789', terminalId: 'ATM00001' };

test('signs on at the real switch link and a withdrawal goes through', async (t) => {
  const { port, seen } = await link();
  const h = await bank(port, '004');
  t.is(h.signedOnCount(), 1);
  const auth = await h.authorize(WITHDRAWAL);
  t.is(auth.rc, '00');
  t.is(seen[0]!.fields[32], '004');
});

test('signs on with its MAC key and the link accepts its MACs and MACs its answers', async (t) => {
  const { port } = await link();
  const h = await bank(port, '700', { macKey: KEY });
  t.is(h.signedOnCount(), 1);
  const auth = await h.authorize(WITHDRAWAL);
  t.is(auth.rc, '00');
  t.is(h.connections()[0]!.macErrors, 0);
});

test('a bank without its MAC key gets 63 on a withdrawal', async (t) => {
  const { port, seen } = await link();
  const h = await bank(port, '700', { sign_on: false });
  const conn = h.connections()[0]!;
  const res = await conn.request(h.buildRequest(WITHDRAWAL));
  t.is(res.fields[39], '63');
  t.is(seen.length, 0);
});

test('a connection that has not signed on gets 91 NOT_SIGNED_ON', async (t) => {
  const { port, seen } = await link();
  const h = await bank(port, '004', { sign_on: false });
  const res = await h.connections()[0]!.request(h.buildRequest(WITHDRAWAL));
  t.is(res.fields[39], '91');
  t.is(res.fields[44], 'NOT_SIGNED_ON');
  t.is(seen.length, 0);
});

test('answers the link’s idle echoes, so the link stays up', async (t) => {
  const { port, server } = await link(40);
  const h = await bank(port, '004');
  const echoes: IsoMessage[] = [];
  h.on('traffic', (e: { dir: string; msg: IsoMessage }) => {
    if (e.dir === 'in' && e.msg.mti === '0800') echoes.push(e.msg);
  });
  await new Promise((r) => setTimeout(r, 300));
  t.true(echoes.length >= 2, `echoes: ${echoes.length}`);
  t.is(h.signedOnCount(), 1);
  t.is(server.sessions.size, 1);
});

test('signs off on close, and the link then holds no session', async (t) => {
  const { port, server } = await link();
  const h = await BankHost.open({ switchHost: '127.0.0.1', switchPort: port, bankCode: '004', queueFile: join(tmp.dir, 'off.jsonl'), logger: silentLogger });
  await h.start();
  const out: IsoMessage[] = [];
  h.on('traffic', (e: { dir: string; msg: IsoMessage }) => out.push(e.msg));
  await h.close(100);
  const off = out.find((m) => m.mti === '0810' && m.fields[70] === '002');
  t.is(off?.fields[39], '00');
  const until = Date.now() + 1_000;
  while (server.sessions.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  t.is(server.sessions.size, 0);
});
