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

export function startSwitch(env: Record<string, string>, startTimeoutMs = 20_000, nodeArgs: string[] = []): Promise<SwitchProcess> {
  // node itself, with tsx as a loader: the tsx CLI would fork a grandchild that a kill -9 leaves running.
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(ROOT, 'switch/main.ts')], {
    cwd: ROOT,
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
