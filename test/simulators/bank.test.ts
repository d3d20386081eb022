import test from 'ava';
import { readFile, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseTlv, type IsoMessage } from '../../switch/iso8583/index.ts';
import { respond } from '../../switch/handlers/respond.ts';
import { BankHost, reconnectDelay } from '../../simulators/bank/host.ts';
import { AtmGateway } from '../../simulators/bank/gateway.ts';
import { AtmServer } from '../../simulators/bank/atm-server.ts';
import { CardFile, CardFileError, syntheticCard, luhnDigit } from '../../simulators/bank/cards.ts';
import { SafQueue } from '../../simulators/bank/saf-queue.ts';
import { StanGenerator } from '../../simulators/bank/stan.ts';
import { originalData } from '../../simulators/bank/fields.ts';
import { BankClient } from '../../simulators/atm/bank-client.ts';
import { AtmTerminal } from '../../simulators/atm/terminal.ts';
import { silentLogger } from '../../switch/log.ts';
import { ScriptedSwitch, approve } from './helpers/scripted-switch.ts';
import { ADULT, CARDS, hostOptions, startedHost, tempDir } from './helpers/fixtures.ts';

const tmp = await tempDir();
const cleanups: Array<() => Promise<unknown> | void> = [];
test.after.always(async () => {
  for (const c of cleanups.reverse()) await c();
  await tmp.remove();
});

async function scripted(o: Parameters<typeof ScriptedSwitch.start>[0] = {}): Promise<ScriptedSwitch> {
  const sw = await ScriptedSwitch.start(o);
  cleanups.push(() => sw.close());
  return sw;
}

async function host(sw: ScriptedSwitch, extra: Parameters<typeof startedHost>[2] = {}): Promise<BankHost> {
  const h = await startedHost(sw, tmp.dir, extra);
  cleanups.push(() => h.close(0));
  return h;
}

function terminalFor(h: BankHost, cards: CardFile | null = CARDS, id = 'ATM00001'): { terminal: AtmTerminal; gateway: AtmGateway } {
  const gateway = new AtmGateway(h, { cards, logger: silentLogger });
  return { gateway, terminal: new AtmTerminal({ terminalId: id, backend: gateway, report_retry_ms: 10 }) };
}

test('signs on when it connects: 0800 with DE70 001, DE32 the bank code, DE7 and DE11', async (t) => {
  const sw = await scripted();
  const h = await host(sw);
  t.is(h.signedOnCount(), 1);
  const m = await sw.waitFor((x) => x.mti === '0800');
  t.is(m.fields[70], '001');
  t.is(m.fields[32], '004');
  t.regex(m.fields[7]!, /^\d{10}$/);
  t.regex(m.fields[11]!, /^\d{6}$/);
});

test('holds as many connections as asked, each signed on', async (t) => {
  const sw = await scripted();
  const h = await host(sw, { connections: 3 });
  t.is(h.signedOnCount(), 3);
  t.is(sw.of('0800').filter((m) => m.fields[70] === '001').length, 3);
});

test('a sign-on the switch refuses leaves the link down, and requests get 91 without being sent', async (t) => {
  const sw = await scripted({ on0800: (m) => ({ ...respond(m, 'APPROVED'), fields: { ...respond(m, 'APPROVED').fields, 39: '58' } }) });
  const h = await BankHost.open(hostOptions(sw, tmp.dir, { reconnect_max_attempts: 1 }));
  cleanups.push(() => h.close(0));
  t.is(await h.start(), 0);
  t.is(h.signedOnCount(), 0);
  const auth = await h.authorize({ processing: 'withdrawal', amountTwd: 6000, nhi: ADULT.nhi, claimantId: ADULT.claimantId, terminalId: 'ATM00001' });
  t.is(auth.rc, '91');
  t.is(sw.of('0200').length, 0);
});

test("answers the switch's echo with 0810 39=00", async (t) => {
  const sw = await scripted();
  await host(sw);
  sw.sendToAll({ mti: '0800', fields: { 7: '1203081600', 11: '900001', 70: '301' } });
  const r = await sw.waitFor((m) => m.mti === '0810');
  t.is(r.fields[39], '00');
  t.is(r.fields[11], '900001');
  t.is(r.fields[70], '301');
});

test('sends its own echo when the link is idle', async (t) => {
  const sw = await scripted();
  await host(sw, { echo_interval_ms: 40 });
  const e = await sw.waitFor((m) => m.mti === '0800' && m.fields[70] === '301');
  t.is(e.fields[32], undefined);
});

test('drops a link whose echoes go unanswered and connects again', async (t) => {
  let answerEchoes = false;
  const sw = await scripted({ on0800: (m) => (m.fields[70] === '301' && !answerEchoes ? null : respond(m, 'APPROVED')) });
  await host(sw, { echo_interval_ms: 20, max_missed_echoes: 2, request_timeout_ms: 60 });
  await sw.waitUntil(() => sw.of('0800').filter((m) => m.fields[70] === '001').length >= 2);
  answerEchoes = true;
  t.true(sw.connections >= 2);
});

test('reconnects and signs on again after the switch drops the connection', async (t) => {
  const sw = await scripted();
  const h = await host(sw);
  sw.dropAll();
  await sw.waitUntil(() => sw.of('0800').filter((m) => m.fields[70] === '001').length === 2);
  await h.ready(1_000);
  t.is(sw.connections, 2);
  const auth = await h.authorize({ processing: 'withdrawal', amountTwd: 6000, nhi: ADULT.nhi, claimantId: ADULT.claimantId, terminalId: 'ATM00001' });
  t.is(auth.rc, '00');
});

test('reconnect delays double from the base and stop at the maximum', (t) => {
  t.deepEqual([1, 2, 3, 4, 5, 6].map((a) => reconnectDelay(a, 100, 1_000)), [100, 200, 400, 800, 1_000, 1_000]);
  t.is(reconnectDelay(200, 100, 1_000), 1_000);
});

test('gives up after reconnect_max_attempts failed attempts', async (t) => {
  const sw = await scripted();
  const port = sw.port;
  await sw.close();
  const h = await BankHost.open({ ...hostOptions(sw, tmp.dir, { reconnect_max_attempts: 2 }), switchPort: port });
  cleanups.push(() => h.close(0));
  const gaveUp = new Promise((r) => h.once('gave-up', r));
  await h.start();
  await gaveUp;
  t.is(h.signedOnCount(), 0);
});

test('matches responses that come back out of order', async (t) => {
  let first = true;
  const sw = await scripted({
    on0200: (m) => {
      const r = approve(m, sw) as IsoMessage;
      if (first) {
        first = false;
        return { delay_ms: 80, response: r };
      }
      return r;
    },
  });
  const h = await host(sw);
  const req = (nhi: string) => h.authorize({ processing: 'withdrawal', amountTwd: 6000, nhi, claimantId: ADULT.claimantId, terminalId: 'ATM00001' });
  const order: string[] = [];
  const [a, b] = await Promise.all([req('000000000001').then((x) => (order.push('a'), x)), req('000000000002').then((x) => (order.push('b'), x))]);
  t.deepEqual(order, ['b', 'a']);
  t.is(a.rc, '00');
  t.is(b.rc, '00');
  t.is(a.response!.fields[11], a.request!.fields[11]);
  t.is(b.response!.fields[11], b.request!.fields[11]);
});

test('forwards an ATM withdrawal as 0200 with DE32, DE37, DE41 and DE48 NH + ID + CP, and never the PIN or the card', async (t) => {
  const sw = await scripted();
  const h = await host(sw);
  const server = new AtmServer(new AtmGateway(h, { cards: CARDS, logger: silentLogger }), silentLogger);
  const port = await server.listen(0);
  cleanups.push(() => server.close());
  const client = new BankClient({ host: '127.0.0.1', port });
  cleanups.push(() => client.close());
  const terminal = new AtmTerminal({ terminalId: 'ATM00007', backend: client });
  const r = await terminal.withdraw({ ...ADULT, campaign: 'C2026' }, { amountTwd: 6000, outcome: 'full' });
  t.is(r.rc, '00');
  t.is(r.dispensedTwd, 6000);
  const m = sw.of('0200')[0]!;
  t.is(m.fields[32], '004');
  t.is(m.fields[41], 'ATM00007');
  t.regex(m.fields[37]!, /^\d{12}$/);
  t.is(m.fields[4], '000000600000');
  t.deepEqual([...parseTlv(m.fields[48]!)], [['NH', ADULT.nhi], ['ID', ADULT.claimantId], ['CP', 'C2026']]);
  t.is(m.fields[2], undefined);
  const wire = JSON.stringify(sw.received);
  t.false(wire.includes(ADULT.card));
  t.false(wire.includes('PN0'));
  const c = await sw.waitFor((x) => x.mti === '0220');
  t.is(c.fields[90], originalData(m));
});

test('an approval that cannot reach its ATM (the ATM hung up) is reversed with 68 and pays nothing', async (t) => {
  const sw = await scripted({ on0200: (m) => ({ delay_ms: 150, response: approve(m, sw) as IsoMessage }) });
  const h = await host(sw);
  const server = new AtmServer(new AtmGateway(h, { cards: CARDS, logger: silentLogger }), silentLogger);
  const port = await server.listen(0);
  cleanups.push(() => server.close());
  const client = new BankClient({ host: '127.0.0.1', port });
  // The ATM sends its 0200 and is gone: it sends no report, so only the bank can notice.
  const answer = client.authorize({
    terminalId: 'ATM00009', stan: '000001', transmission: '1203081530', localTime: '163012', localDate: '1203',
    processing: 'withdrawal', amountTwd: 6000, card: ADULT.card, pin: ADULT.pin, nhi: ADULT.nhi, claimantId: ADULT.claimantId,
  });
  await sw.waitFor((m) => m.mti === '0200');
  client.close();
  await t.throwsAsync(answer, { message: 'connection to the bank lost' });
  const rev = await sw.waitFor((m) => m.mti === '0420');
  t.is(rev.fields[39], '68');
  t.is(rev.fields[90], originalData(sw.of('0200')[0]!));
  t.true(await h.drainQueue(2_000));
  t.is(sw.paidTwd, 0);
  t.is(sw.of('0220').length, 0);
});

test('a draining bank answers new withdrawals 91 and waits for the dispense report of one already approved', async (t) => {
  const sw = await scripted();
  const h = await host(sw);
  const gateway = new AtmGateway(h, { cards: CARDS, logger: silentLogger });
  const server = new AtmServer(gateway, silentLogger);
  const port = await server.listen(0);
  const client = new BankClient({ host: '127.0.0.1', port });
  cleanups.push(() => client.close());
  const slow = { authorize: (r: Parameters<BankClient['authorize']>[0]) => client.authorize(r), report: async (a: Parameters<BankClient['report']>[0]) => (await new Promise((res) => setTimeout(res, 100)), client.report(a)) };
  const first = new AtmTerminal({ terminalId: 'ATM00001', backend: slow }).withdraw(ADULT, { amountTwd: 6000, outcome: 'full' });
  await sw.waitFor((m) => m.mti === '0200');
  while (gateway.pending() === 0) await new Promise((res) => setTimeout(res, 5));
  const closing = server.close(2_000);
  const late = await new AtmTerminal({ terminalId: 'ATM00002', backend: client }).withdraw(ADULT, { amountTwd: 6000, outcome: 'full' });
  t.is(late.rc, '91');
  t.is(late.reason, 'BANK_BUSY');
  const r = await first;
  await closing;
  t.is(r.rc, '00');
  t.true(r.reportAcknowledged);
  t.is(gateway.pending(), 0);
  await sw.waitFor((m) => m.mti === '0220');
  t.is(sw.of('0200').length, 1);
});

test('a wrong PIN gets 55 at the ATM and nothing reaches the switch', async (t) => {
  const sw = await scripted();
  const h = await host(sw);
  const { terminal } = terminalFor(h);
  const r = await terminal.withdraw({ ...ADULT, pin: '9999' }, { amountTwd: 6000, outcome: 'full' });
  t.is(r.rc, '55');
  t.is(r.dispensedTwd, 0);
  t.is(r.screen.en, 'Incorrect PIN.');
  t.is(sw.of('0200').length, 0);
});

test("an ID that is not the cardholder's gets 57 and nothing reaches the switch", async (t) => {
  const sw = await scripted();
  const h = await host(sw);
  const { terminal } = terminalFor(h);
  const r = await terminal.withdraw({ ...ADULT, claimantId: 'F131104093' }, { amountTwd: 6000, outcome: 'full' });
  t.is(r.rc, '57');
  t.is(r.reason, 'NOT_CARDHOLDER');
  t.is(sw.of('0200').length, 0);
});

test('a card that is not the bank’s gets 14', async (t) => {
  const sw = await scripted();
  const h = await host(sw);
  const { terminal } = terminalFor(h);
  const r = await terminal.withdraw({ ...ADULT, card: '4000000000000002' }, { amountTwd: 6000, outcome: 'full' });
  t.is(r.rc, '14');
  t.is(r.reason, 'CARD_NOT_OURS');
  t.is(sw.of('0200').length, 0);
});

test('passes the switch’s decline to the ATM with its reason token, and sends no advice', async (t) => {
  const sw = await scripted({ on0200: (m) => respond(m, 'ALREADY_COLLECTED', { 15: '1203' }) });
  const h = await host(sw);
  const { terminal } = terminalFor(h);
  const r = await terminal.withdraw(ADULT, { amountTwd: 6000, outcome: 'full' });
  t.is(r.rc, '65');
  t.is(r.reason, 'ALREADY_COLLECTED');
  t.is(r.dispensedTwd, 0);
  await new Promise((res) => setTimeout(res, 50));
  t.is(h.queueDepth(), 0);
  t.is(sw.received.filter((m) => m.mti !== '0800' && m.mti !== '0200').length, 0);
});

test('a full dispense sends 0220 with a new STAN and DE7 and DE90 pointing at the 0200, and the queue drains', async (t) => {
  const sw = await scripted();
  const h = await host(sw);
  const { terminal } = terminalFor(h);
  await terminal.withdraw(ADULT, { amountTwd: 6000, outcome: 'full' });
  const o = sw.of('0200')[0]!;
  const c = await sw.waitFor((m) => m.mti === '0220');
  for (const n of [3, 4, 12, 13, 32, 37, 41, 49]) t.is(c.fields[n], o.fields[n], `DE${n}`);
  t.not(c.fields[11], o.fields[11]);
  t.is(c.fields[90], '0200' + o.fields[11] + o.fields[7] + '00000000004' + '00000000000');
  t.true(await h.drainQueue(1_000));
});

test('a partial dispense sends 0420 with DE39 32 and DE95 = dispensed n12 + 30 zeros', async (t) => {
  const sw = await scripted();
  const h = await host(sw);
  const { terminal } = terminalFor(h);
  const r = await terminal.withdraw(ADULT, { amountTwd: 6000, outcome: 'partial', partialTwd: 4000 });
  t.is(r.dispensedTwd, 4000);
  const rev = await sw.waitFor((m) => m.mti === '0420');
  t.is(rev.fields[39], '32');
  t.is(rev.fields[95], '000000400000' + '0'.repeat(30));
  t.is(rev.fields[4], '000000600000');
  t.is(rev.fields[90], originalData(sw.of('0200')[0]!));
  t.is(sw.paidTwd, 4000);
});

test('no dispense reverses in full with 22, a customer cancel with 17', async (t) => {
  const sw = await scripted();
  const h = await host(sw);
  const { terminal } = terminalFor(h);
  await terminal.withdraw(ADULT, { amountTwd: 6000, outcome: 'none' });
  await terminal.withdraw(ADULT, { amountTwd: 6000, outcome: 'cancel' });
  await sw.waitUntil(() => sw.of('0420').length === 2);
  t.deepEqual(sw.of('0420').map((m) => m.fields[39]).sort(), ['17', '22']);
  t.true(sw.of('0420').every((m) => m.fields[95] === undefined));
  t.is(sw.paidTwd, 0);
});

test('a 0200 without an answer in time is reversed with 0420 39=68, the ATM shows a timeout, and a late 0210 pays nothing', async (t) => {
  const sw = await scripted({ on0200: (m) => ({ delay_ms: 250, response: approve(m, sw) as IsoMessage }) });
  const h = await host(sw, { request_timeout_ms: 100 });
  const { terminal } = terminalFor(h);
  const late = new Promise<IsoMessage>((r) => h.once('late-response', r));
  const r = await terminal.withdraw(ADULT, { amountTwd: 6000, outcome: 'full' });
  t.is(r.rc, '68');
  t.is(r.dispensedTwd, 0);
  t.is(r.screen.en, 'The transaction timed out. No cash was paid. Please try again later.');
  const o = sw.of('0200')[0]!;
  const rev = await sw.waitFor((m) => m.mti === '0420');
  t.is(rev.fields[39], '68');
  t.is(rev.fields[90], originalData(o));
  const lateMsg = await late;
  t.is(lateMsg.fields[39], '00');
  t.is(h.status().counts.lateResponses, 1);
  await new Promise((res) => setTimeout(res, 30));
  t.is(sw.of('0220').length, 0);
  t.is(sw.paidTwd, 0);
});

test('a 0200 in flight when the link drops is reversed with 68 once the link is back', async (t) => {
  const sw = await scripted({ on0200: () => null });
  const h = await host(sw, { request_timeout_ms: 2_000 });
  const pending = h.authorize({ processing: 'withdrawal', amountTwd: 6000, nhi: ADULT.nhi, claimantId: ADULT.claimantId, terminalId: 'ATM00001' });
  await sw.waitFor((m) => m.mti === '0200');
  sw.dropAll();
  const auth = await pending;
  t.is(auth.rc, '68');
  const rev = await sw.waitFor((m) => m.mti === '0420' || m.mti === '0421');
  t.is(rev.fields[39], '68');
});

test('the terminal giving up before the answer makes the bank reverse the approved withdrawal with 68', async (t) => {
  const sw = await scripted({ on0200: (m) => ({ delay_ms: 40, response: approve(m, sw) as IsoMessage }) });
  const h = await host(sw);
  const { terminal } = terminalFor(h);
  const r = await terminal.withdraw(ADULT, { amountTwd: 6000, outcome: 'timeout' });
  t.is(r.rc, '68');
  t.is(r.dispensedTwd, 0);
  t.true(r.reportAcknowledged);
  const rev = await sw.waitFor((m) => m.mti === '0420');
  t.is(rev.fields[39], '68');
  t.is(rev.fields[90], originalData(sw.of('0200')[0]!));
});

test('a 39=91 answer keeps the advice queued and it repeats as 0221 until 00', async (t) => {
  let answers = 0;
  const sw = await scripted({ onAdvice: (m) => respond(m, ++answers < 3 ? 'UNAVAILABLE' : 'APPROVED') });
  const h = await host(sw);
  const { terminal } = terminalFor(h);
  await terminal.withdraw(ADULT, { amountTwd: 6000, outcome: 'full' });
  t.true(await h.drainQueue(2_000));
  const mtis = sw.received.filter((m) => m.mti.startsWith('022')).map((m) => m.mti);
  t.deepEqual(mtis, ['0220', '0221', '0221']);
  const stans = new Set(sw.received.filter((m) => m.mti.startsWith('022')).map((m) => m.fields[11]));
  t.is(stans.size, 1);
});

test('after max_repeats unanswered repeats the advice stays queued, flagged for attention, and shows in the status line', async (t) => {
  const sw = await scripted({ onAdvice: () => null });
  const h = await host(sw, { advice_timeout_ms: 30, max_repeats: 2, repeat_interval_ms: 10 });
  const { terminal } = terminalFor(h);
  await terminal.withdraw(ADULT, { amountTwd: 6000, outcome: 'none' });
  const until = Date.now() + 2_000;
  while (h.queue.attentionCount() === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  t.is(h.queue.attentionCount(), 1);
  t.is(h.queueDepth(), 1);
  t.deepEqual(sw.received.filter((m) => m.mti.startsWith('042')).map((m) => m.mti), ['0420', '0421', '0421']);
  t.regex(h.statusLine(), /queue 1 \(1 need attention\)/);
});

test('store and forward survives a restart: a new BankHost on the same queue file resends as 0221/0421 and the queue drains', async (t) => {
  let acknowledge = false;
  const sw = await scripted({ onAdvice: (m) => (acknowledge ? respond(m, 'APPROVED') : null) });
  const options = hostOptions(sw, tmp.dir, { advice_timeout_ms: 50, repeat_interval_ms: 20 });
  const first = await BankHost.open(options);
  await first.start();
  await first.ready(5_000);
  const { terminal } = terminalFor(first);
  await terminal.withdraw(ADULT, { amountTwd: 6000, outcome: 'full' });
  await terminal.withdraw(ADULT, { amountTwd: 6000, outcome: 'partial', partialTwd: 1000 });
  t.is(first.queueDepth(), 2);
  await sw.waitUntil(() => sw.of('0220').length === 1 && sw.of('0420').length === 1);
  await first.close(0);
  const sent = { c: sw.of('0220')[0]!, r: sw.of('0420')[0]! };

  acknowledge = true;
  const second = await BankHost.open(options);
  cleanups.push(() => second.close(0));
  t.is(second.queueDepth(), 2);
  await second.start();
  t.true(await second.drainQueue(5_000));
  const c = await sw.waitFor((m) => m.mti === '0221');
  const r = await sw.waitFor((m) => m.mti === '0421');
  t.deepEqual(c.fields, sent.c.fields);
  t.deepEqual(r.fields, sent.r.fields);
  t.is(second.queueDepth(), 0);
  const third = await SafQueue.open(options.queueFile);
  t.is(third.depth(), 0);
  await third.close();
});

test('signs every message with the MAC key and drops a switch response whose MAC is wrong', async (t) => {
  const key = Buffer.from('2b7e151628aed2a6abf7158809cf4f3c', 'hex');
  const sw = await scripted({ macKey: key });
  const h = await host(sw, { macKey: key });
  const auth = await h.authorize({ processing: 'withdrawal', amountTwd: 6000, nhi: ADULT.nhi, claimantId: ADULT.claimantId, terminalId: 'ATM00001' });
  t.is(auth.rc, '00');
  t.true(sw.macResults.length >= 2);
  t.true(sw.macResults.every((r) => r === 'ok'));

  const macErrors = new Promise((r) => h.once('mac-error', r));
  const body = sw.encodeFor({ mti: '0800', fields: { 7: '1203081600', 11: '900002', 70: '301' } });
  body[body.length - 1]! ^= 0xff;
  sw.sendRawToAll(body);
  await macErrors;
  await new Promise((r) => setTimeout(r, 30));
  t.false(sw.received.some((m) => m.mti === '0810' && m.fields[11] === '900002'));
});

test('signs off with 0800 DE70 002 when it closes', async (t) => {
  const sw = await scripted();
  const h = await startedHost(sw, tmp.dir);
  await h.close(100);
  const off = await sw.waitFor((m) => m.mti === '0800' && m.fields[70] === '002');
  t.is(off.fields[32], '004');
  t.is(h.signedOnCount(), 0);
});

test('the status line shows links, queue depth and counts', async (t) => {
  const sw = await scripted({ onAdvice: () => null });
  const h = await host(sw);
  const { terminal } = terminalFor(h);
  await terminal.withdraw(ADULT, { amountTwd: 6000, outcome: 'full' });
  const line = h.statusLine();
  t.regex(line, /^bank 004 \| links 1\/1 signed on/);
  t.regex(line, /queue 1/);
  t.regex(line, /approved 1/);
});

test('the STAN runs 000001 … 999999 and wraps to 000001', (t) => {
  const s = new StanGenerator(999_998);
  t.deepEqual([s.next(), s.next(), s.next()], ['999999', '000001', '000002']);
});

test('the queue file ignores a torn last line and refuses a corrupt line in the middle', async (t) => {
  const file = join(tmp.dir, 'torn.jsonl');
  const q = await SafQueue.open(file);
  await q.enqueue({ mti: '0220', fields: { 11: '000001' } });
  await q.close();
  await appendFile(file, '{"op":"add","id":"x","at":"2026');
  const again = await SafQueue.open(file);
  t.is(again.depth(), 1);
  await again.close();
  const text = await readFile(file, 'utf8');
  await writeFile(file, 'garbage\n' + text);
  await t.throwsAsync(SafQueue.open(join(tmp.dir, 'torn.jsonl')), { message: /line 1 is not JSON/ });
});

test('the queue file is compacted on open: acknowledged advices leave no lines', async (t) => {
  const file = join(tmp.dir, 'compact.jsonl');
  const q = await SafQueue.open(file);
  const a = await q.enqueue({ mti: '0220', fields: { 11: '000001' } });
  await q.enqueue({ mti: '0420', fields: { 11: '000002', 39: '22' } });
  await q.ack(a.id);
  await q.close();
  const reopened = await SafQueue.open(file);
  t.is(reopened.depth(), 1);
  await reopened.close();
  const lines = (await readFile(file, 'utf8')).trim().split('\n');
  t.is(lines.length, 1);
  t.regex(lines[0]!, /"000002"/);
});

test('the queue refuses more than its maximum, and the bank then answers 91 without forwarding', async (t) => {
  const sw = await scripted({ onAdvice: () => null });
  const h = await host(sw, { max_queue_entries: 1 });
  const { terminal } = terminalFor(h);
  await terminal.withdraw(ADULT, { amountTwd: 6000, outcome: 'full' });
  const r = await terminal.withdraw(ADULT, { amountTwd: 6000, outcome: 'full' });
  t.is(r.rc, '91');
  t.is(r.reason, 'BANK_BUSY');
  t.is(sw.of('0200').length, 1);
});

test('a card file loads from CSV or JSON and names the bad line', (t) => {
  const csv = CardFile.parse('card,pin,holder_id\n4000123412341234,1234,A123456789\n');
  t.is(csv.verify('4000123412341234', '1234', 'A123456789'), 'ok');
  t.is(csv.verify('4000123412341234', '4321', 'A123456789'), 'wrong_pin');
  t.is(csv.verify('4000123412341234', '1234', 'B123456789'), 'not_holder');
  t.is(csv.verify('4111111111111111', '1234', 'A123456789'), 'unknown_card');
  const json = CardFile.parse(JSON.stringify(csv.toJSON()));
  t.is(json.size, 1);
  t.throws(() => CardFile.parse('card,pin,holder_id\n4000123412341234,12,A123456789\n', 'cards.csv'), {
    instanceOf: CardFileError,
    message: 'cards.csv: line 2: PIN must be 4 to 12 digits',
  });
});

test('a synthetic card is the same for the same holder and passes the Luhn check', (t) => {
  const a = syntheticCard('004', 'A123456789');
  t.deepEqual(syntheticCard('004', 'A123456789'), a);
  t.notDeepEqual(syntheticCard('004', 'F131104093').card, a.card);
  t.is(luhnDigit(a.card.slice(0, -1)), a.card.slice(-1));
  t.is(luhnDigit('7992739871'), '3');
});
