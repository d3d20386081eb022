// sim:bank — a partner bank host on the command line. Thin: flags → startBankSimulator(); a status line; drains on SIGTERM.
import { createLogger } from '../../switch/log.ts';
import { CardFile } from './cards.ts';
import { bankCodeFlag, hostPort, intFlag, liveLine, macKeyFlag, parseArgs, untilSignal, UsageError } from './cli-args.ts';
import { BANK_HOST_DEFAULTS } from './host.ts';
import { startBankSimulator } from './index.ts';

const FLAGS = [
  'switch', 'bank', 'mac-key', 'listen', 'cards', 'queue', 'connections',
  'request-timeout-ms', 'repeat-interval-ms', 'max-repeats', 'reconnect-max-attempts', 'status-interval-s', 'drain-ms',
];
export const USAGE =
  'usage: sim:bank -- --switch HOST:PORT --bank CODE [--mac-key HEX] [--listen [HOST:]PORT] [--cards FILE] [--queue FILE] ' +
  '[--connections N] [--request-timeout-ms N] [--repeat-interval-ms N] [--max-repeats N] [--reconnect-max-attempts N] [--status-interval-s N] [--drain-ms N]';

export async function main(argv: string[]): Promise<number> {
  const out = (l: string) => process.stdout.write(l + '\n');
  let sim;
  try {
    const { pos, opts } = parseArgs(argv, FLAGS);
    if (pos.length) throw new UsageError(`unexpected argument "${pos[0]}"; ${USAGE}`);
    const sw = hostPort(opts.switch, '--switch');
    const bankCode = bankCodeFlag(opts.bank, '--bank');
    const listen = opts.listen !== undefined ? hostPort(opts.listen, '--listen', true) : null;
    const cards = opts.cards ? CardFile.load(opts.cards) : null;
    const statusEvery_s = intFlag(opts, 'status-interval-s', 1, 3600, 5);
    sim = await startBankSimulator({
      switchHost: sw.host,
      switchPort: sw.port,
      bankCode,
      macKey: macKeyFlag(opts['mac-key']),
      queueFile: opts.queue ?? `.data/sim-bank-${bankCode}.queue.jsonl`,
      connections: intFlag(opts, 'connections', 1, 32, 1),
      request_timeout_ms: intFlag(opts, 'request-timeout-ms', 100, 300_000, BANK_HOST_DEFAULTS.request_timeout_ms),
      repeat_interval_ms: intFlag(opts, 'repeat-interval-ms', 10, 3_600_000, BANK_HOST_DEFAULTS.repeat_interval_ms),
      max_repeats: intFlag(opts, 'max-repeats', 0, 10_000, BANK_HOST_DEFAULTS.max_repeats),
      reconnect_max_attempts: intFlag(opts, 'reconnect-max-attempts', 0, 1_000_000, BANK_HOST_DEFAULTS.reconnect_max_attempts),
      logger: createLogger({ component: 'sim-bank', bank: bankCode }, (process.env.LOG_LEVEL as 'info') || 'warn'),
      cards,
      listen_port: listen?.port ?? null,
      ...(listen && opts.listen!.includes(':') ? { listen_host: listen.host } : {}),
    });
    const drain_ms = intFlag(opts, 'drain-ms', 0, 600_000, 5_000);
    out(
      `sim-bank ready: bank ${bankCode}, ${sim.host.signedOnCount()} of ${sim.host.status().links.total} connection(s) signed on` +
        (sim.atmPort !== null ? `, ATMs on port ${sim.atmPort}` : '') +
        (sim.atmPort !== null && !cards ? ' (no --cards: card and PIN are not checked)' : '') +
        `, ${sim.host.queueDepth()} advice(s) queued`,
    );
    const line = liveLine(process.stdout);
    const timer = setInterval(() => {
      if (process.stdout.isTTY) line.show(sim!.host.statusLine());
      else out(sim!.host.statusLine());
    }, statusEvery_s * 1000);
    const gaveUp = new Promise<'gave-up'>((resolve) => {
      const check = () => sim!.host.allGaveUp() && resolve('gave-up');
      sim!.host.on('gave-up', check);
      check();
    });
    const signal = await Promise.race([untilSignal(), gaveUp]);
    clearInterval(timer);
    line.done();
    if (signal === 'gave-up') throw new Error(`gave up connecting to the switch at ${sw.host}:${sw.port}`);
    out(`${signal}: draining (up to ${drain_ms} ms), then signing off`);
    await sim.stop(drain_ms);
    out(sim.host.statusLine());
    return 0;
  } catch (e) {
    process.stderr.write(`sim:bank: ${(e as Error).message.split('\n')[0]}\n`);
    await sim?.stop(0).catch(() => {});
    return e instanceof UsageError ? 2 : 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(await main(process.argv.slice(2)));
