// ioredis alone at a fixed rate: how much survives / is promoted per scavenge (run with --trace-gc-nvp)
import { Redis } from 'ioredis';
const r = new Redis('redis://127.0.0.1:6379/9', { enableAutoPipelining: process.env.AP !== '0', commandTimeout: 1000, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
r.defineCommand('res', { numberOfKeys: 1, lua: "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return {'OK', ARGV[2]}" });
await new Promise((res) => r.once('ready', res));
const rate = Number(process.env.RATE ?? 4000), dur = Number(process.env.DUR ?? 8000);
const t0 = performance.now(); let sent = 0, done = 0;
await new Promise((res) => {
  const iv = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    while (sent < due) { const i = sent++; r.res(`e:{C:${i >> 8}}`, String(i & 255), String(-i)).then(() => done++); }
    if (performance.now() - t0 > dur) { clearInterval(iv); res(); }
  }, 1);
});
await new Promise((res) => setTimeout(res, 200));
console.error('done', done); r.disconnect();
