// Shared set-up for the simulator tests: a temporary directory, a bank host on a scripted switch, a card file.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../switch/log.ts';
import { BankHost, type BankHostOptions } from '../../../simulators/bank/host.ts';
import { CardFile } from '../../../simulators/bank/cards.ts';
import type { ScriptedSwitch } from './scripted-switch.ts';

export async function tempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sim-test-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

let n = 0;

/** Short timeouts and intervals so every test runs in well under a second. */
export function hostOptions(sw: ScriptedSwitch, dir: string, extra: Partial<BankHostOptions> = {}): BankHostOptions {
  return {
    switchHost: '127.0.0.1',
    switchPort: sw.port,
    bankCode: '004',
    queueFile: join(dir, `queue-${process.pid}-${n++}.jsonl`),
    logger: silentLogger,
    request_timeout_ms: 2_000,
    advice_timeout_ms: 400,
    repeat_interval_ms: 30,
    reconnect_base_delay_ms: 10,
    reconnect_max_delay_ms: 40,
    echo_interval_ms: 0,
    ...extra,
  };
}

export async function startedHost(sw: ScriptedSwitch, dir: string, extra: Partial<BankHostOptions> = {}): Promise<BankHost> {
  const host = await BankHost.open(hostOptions(sw, dir, extra));
  await host.start();
  await host.ready(5_000);
  return host;
}

export const CARDS = new CardFile([
  { card: '4000123412341234', pin: '1234', holderId: 'A123456789' },
  { card: '4000999988887777', pin: '0000', holderId: 'F131104093' },
]);

export const ADULT = { card: '4000123412341234', pin: '1234', nhi: '000012345678', claimantId: 'A123456789' };
