// One process issuing reservation-like scripts at a fixed rate in one of three ways; run by bench/redis-writes.ts
// under --trace-gc-nvp. argv: <auto|plain|corked> <redis url> <rate/s> <duration ms>
import { once } from 'node:events';
import { createRedis, corkTurn } from '../../switch/redis.ts';

const [mode, url, rateArg, durationArg] = process.argv.slice(2);
const rate = Number(rateArg);
const durationMs = Number(durationArg);
const redis = createRedis(url!, { enableAutoPipelining: mode === 'auto' });
redis.defineCommand('benchReserve', { numberOfKeys: 1, lua: `redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return {'OK', ARGV[2]}` });
const reserve = (redis as unknown as Record<string, (...a: string[]) => Promise<unknown>>).benchReserve!.bind(redis);
if (redis.status !== 'ready') await once(redis, 'ready');

const started = performance.now();
const cpu0 = process.cpuUsage();
let sent = 0;
let answered = 0;
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    while (sent < due) {
      const i = sent++;
      if (mode === 'corked') corkTurn(redis);
      void reserve(`e:{B:${i >> 8}}`, String(i & 255), String(-i)).then(() => answered++);
    }
    if (performance.now() - started >= durationMs) {
      clearInterval(timer);
      resolve();
    }
  }, 1);
});
while (answered < sent) await new Promise((r) => setTimeout(r, 10));
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ result: { answered, cpuUs: cpu.user + cpu.system } }));
redis.disconnect();
