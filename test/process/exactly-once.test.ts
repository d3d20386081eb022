// Exactly once across processes: real switch processes, real TCP, real PostgreSQL and Redis.
import test from 'ava';
import { Fixture, IDENTITY_KEY, adult, withdrawal, type Person } from '../ledger/fixture.ts';
import { startSwitch, type SwitchProcess } from '../helpers/switch-process.ts';
import { IsoClient } from '../helpers/iso-client.ts';
import type { IsoMessage } from '../../switch/iso8583/message.ts';

async function signedOn(port: number): Promise<IsoClient> {
  const c = await IsoClient.connect(port);
  c.send({ mti: '0800', fields: { 7: '1203081500', 11: '000001', 32: '004', 70: '001' } });
  const r = await c.next();
  if (r.fields[39] !== '00') throw new Error(`sign-on refused: ${r.fields[39]}`);
  return c;
}

async function ask(c: IsoClient, m: IsoMessage): Promise<IsoMessage> {
  c.send(m);
  return c.next((r) => r.fields[11] === m.fields[11] && r.fields[41] === m.fields[41]);
}

function env(f: Fixture): Record<string, string> {
  return { DATABASE_URL: f.tdb.url, REDIS_URL: f.tredis.url, IDENTITY_KEY };
}

test('one beneficiary hammered from 50 connections across 2 switch processes is approved exactly once', async (t) => {
  const f = await Fixture.create();
  const people: Person[] = [adult(), adult(), adult()];
  await f.campaign('C1', people);
  const switches: SwitchProcess[] = [];
  const clients: IsoClient[] = [];
  try {
    switches.push(await startSwitch(env(f)), await startSwitch(env(f)));
    for (let i = 0; i < 50; i++) clients.push(await signedOn(switches[i % 2]!.isoPort));
    const approvals: IsoMessage[] = [];
    for (const [pi, person] of people.entries()) {
      // Every connection asks at once, each with its own terminal and STAN: distinct requests, one entitlement.
      const answers = await Promise.all(
        clients.map((c, i) => ask(c, withdrawal({ person, terminal: `ATM${String(i).padStart(5, '0')}`, stan: String(pi * 100 + i + 1).padStart(6, '0') }))),
      );
      const codes = answers.map((a) => a.fields[39]);
      t.is(codes.filter((c) => c === '00').length, 1, `exactly one approval for one person, got ${codes.join(',')}`);
      t.true(codes.every((c) => c === '00' || c === '09'), 'the others see it in progress');
      approvals.push(...answers.filter((a) => a.fields[39] === '00'));
    }
    // PostgreSQL holds exactly what the clients were told.
    const rows = await f.db('withdrawals').select('terminal', 'stan', 'amount_minor');
    t.is(rows.length, approvals.length);
    for (const a of approvals) t.true(rows.some((r) => r.terminal === a.fields[41] && r.stan === a.fields[11]));
    const sum = (await f.db('payouts').sum({ sum: 'reserved_minor' }))[0]?.sum;
    t.is(Number(sum), approvals.length * 600_000);
  } finally {
    for (const c of clients) c.close();
    for (const s of switches) await s.stop('SIGKILL');
    await f.destroy();
  }
});

test('kill -9 right after approvals, Redis flushed, restart: nobody is paid again and every approval seen is in PostgreSQL', async (t) => {
  const f = await Fixture.create();
  const people: Person[] = Array.from({ length: 40 }, () => adult());
  await f.campaign('C1', people);
  let sw = await startSwitch(env(f));
  let clients: IsoClient[] = [];
  try {
    clients = await Promise.all(Array.from({ length: 4 }, () => signedOn(sw.isoPort)));
    // The first 20 are asked and answered; the next 20 are in flight when the process dies.
    const seen = await Promise.all(people.slice(0, 20).map((p, i) => ask(clients[i % 4]!, withdrawal({ person: p, stan: String(i + 1).padStart(6, '0') }))));
    t.true(seen.every((a) => a.fields[39] === '00'));
    people.slice(20).forEach((p, i) => clients[i % 4]!.send(withdrawal({ person: p, stan: String(i + 101).padStart(6, '0') })));
    await sw.stop('SIGKILL');
    await f.redis.flushdb();

    // Every approval a client saw is durable.
    const rows = await f.db('withdrawals').select('stan');
    for (const a of seen) t.true(rows.some((r) => r.stan === a.fields[11]), `approval ${a.fields[11]} is in PostgreSQL`);

    sw = await startSwitch(env(f));
    const again = await signedOn(sw.isoPort);
    clients = [again];
    const retry = [];
    for (const [i, p] of people.entries()) retry.push(await ask(again, withdrawal({ person: p, terminal: 'ATM99999', stan: String(i + 501).padStart(6, '0') })));
    for (const [i, r] of retry.entries()) {
      if (i < 20) t.is(r.fields[39], '09', `person ${i} was approved before the crash: still reserved, not paid again`);
      else t.true(['00', '09'].includes(r.fields[39]!), `person ${i}: ${r.fields[39]}`);
    }
    // Whatever happened to the requests in flight, each entitlement holds at most one reservation.
    const per = await f.db('withdrawals').where({ state: 'RESERVED' }).select('beneficiary_id').count('* as n').groupBy('beneficiary_id');
    t.true(per.every((r) => Number(r.n) === 1));
    t.is(per.length, 40);
  } finally {
    for (const c of clients) c.close();
    await sw.stop('SIGKILL');
    await f.destroy();
  }
});
