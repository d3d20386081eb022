// Runs the real switch (`switch/main.ts`) as a child process: for the demo, the benchmark, and tests that need
// several instances or a kill -9.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface SwitchProcess {
  child: ChildProcess;
  isoPort: number;
  adminPort: number;
  /** Every log line the process wrote (already masked by the switch). */
  lines: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * V8 flags the switch runs with (also in package.json's "switch" script).
 * - A 64 MB young generation: at full load a withdrawal lives 50-130 ms, and with 16 MB a scavenge came every ~50 ms,
 *   so most requests in flight were copied, then promoted, then collected again by mark-compact. With 64 MB they are
 *   mostly gone when it runs. Measured with --trace-gc in the benchmark: scavenge time at full load 767 -> 371 ms per
 *   4 s, at half rate 294 -> 138 ms; approvals/s over three interleaved runs 6,313-7,962 -> 7,386-7,997.
 * - V8's parallel scavenger (the default): each scavenge stops the switch, and what dominates the p99 is how long.
 *   Three interleaved pairs at 200 k (--trace-gc, BENCH_DUMP_SWITCH_LOG), single-threaded -> parallel: pause p50
 *   17.1 / 18.0 / 15.9 -> 14.9 / 12.0 / 11.3 ms, max 42.9 / 53.8 / 36.3 -> 29.4 / 29.9 / 28.5 ms, total scavenge time
 *   lower too; approvals/s within the runs' noise. (An earlier measurement on a quieter day favoured
 *   --single-threaded-gc by CPU totals; the pauses were not measured then.)
 */
export const SWITCH_NODE_FLAGS = ['--max-semi-space-size=64'];

/** `root`: the checkout whose switch runs (another one's, to compare two versions side by side: bench/ab.ts). */
export function startSwitch(env: Record<string, string>, startTimeoutMs = 20_000, nodeArgs: string[] = [], root = ROOT): Promise<SwitchProcess> {
  // node itself, with tsx as a loader: the tsx CLI would fork a grandchild that a kill -9 leaves running.
  const child = spawn(process.execPath, [...SWITCH_NODE_FLAGS, ...nodeArgs, '--import', 'tsx', path.join(root, 'switch/main.ts')], {
    cwd: root,
    env: { ...process.env, SWITCH_PORT: '0', ADMIN_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switch did not start within ${startTimeoutMs} ms:\n${lines.join('\n')}`));
    }, startTimeoutMs);
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        if (line.includes('"switch listening"')) {
          const j = JSON.parse(line);
          clearTimeout(timer);
          resolve({
            child,
            isoPort: j.iso8583_port,
            adminPort: j.admin_port,
            lines,
            stop: async (signal = 'SIGTERM') => {
              if (child.exitCode === null && child.signalCode === null) child.kill(signal);
              return exited;
            },
          });
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`switch exited with ${code} before listening:\n${lines.join('\n')}`));
    });
  });
}
