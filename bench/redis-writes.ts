// How the money path's Redis calls leave the process, and what each way costs the switch's young generation:
// ioredis auto-pipelining, one write per command, and the connection corked per event-loop turn (what the switch
// does, switch/redis.ts corkTurn). Each runs alone in a process with a 64 MB young generation, as the switch does.
//   npm run bench:redis -- [--rate 6000] [--duration-s 12]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshRedis } from '../test/helpers/services.ts';
import { SWITCH_NODE_FLAGS } from '../simulators/lib/switch-process.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}
const RATE = arg('rate', 6000);
const DURATION_MS = arg('duration-s', 12) * 1000;
const LOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib/redis-load.ts');

interface Run { answered: number; cpuUs: number; scavenges: number; survivedMb: number; pauseP50: number; pauseMax: number }

function run(mode: string, url: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...SWITCH_NODE_FLAGS, '--trace-gc-nvp', '--import', 'tsx', LOAD, mode, url, String(RATE), String(DURATION_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const result = out.split('\n').find((l) => l.startsWith('{"result"'));
      if (code !== 0 || !result) return reject(new Error(`${mode}: exited ${code}`));
      // Scavenges after the first second (the young generation has grown to its size by then).
      const gcs = out.split('\n').filter((l) => l.includes('gc=s ')).map((l) => ({
        at: Number(/ (\d+) ms: /.exec(l)?.[1]), pause: Number(/pause=([\d.]+)/.exec(l)?.[1]), survived: Number(/new_space_survived=(\d+)/.exec(l)?.[1]),
      })).filter((g) => g.at > 1000);
      const pauses = gcs.map((g) => g.pause).sort((a, b) => a - b);
      resolve({
        ...JSON.parse(result).result,
        scavenges: gcs.length,
        survivedMb: gcs.reduce((a, g) => a + g.survived, 0) / Math.max(1, gcs.length) / 1e6,
        pauseP50: pauses[Math.floor(pauses.length / 2)] ?? NaN,
        pauseMax: pauses[pauses.length - 1] ?? NaN,
      });
    });
  });
}

const tredis = await freshRedis();
try {
  console.log(`Redis writes: ${RATE}/s reservation scripts for ${DURATION_MS / 1000} s per way, each in its own process`);
  const runs: Record<string, Run> = {};
  for (const mode of ['auto', 'plain', 'corked']) {
    const r = (runs[mode] = await run(mode, tredis.url));
    console.log(
      `${mode.padEnd(7)} scavenges ${r.scavenges}, surviving each ${r.survivedMb.toFixed(2)} MB, pause p50 ${r.pauseP50.toFixed(1)} ms max ${r.pauseMax.toFixed(1)} ms; ` +
        `CPU ${(r.cpuUs / r.answered).toFixed(1)} µs per call`,
    );
  }
  const c = runs.corked!;
  const a = runs.auto!;
  console.log(`corked vs auto-pipelined: survivors x${(c.survivedMb / a.survivedMb).toFixed(3)}, pause p50 x${(c.pauseP50 / a.pauseP50).toFixed(2)}, CPU per call x${(c.cpuUs / c.answered / (a.cpuUs / a.answered)).toFixed(2)}`);
} finally {
  await tredis.release();
}
