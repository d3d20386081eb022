import { Redis } from 'ioredis';
const mode = process.env.MODE ?? 'plain';
const r = new Redis('redis://127.0.0.1:6379/9', { enableAutoPipelining: mode === 'auto', commandTimeout: 1000, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
r.defineCommand('res', { numberOfKeys: 1, lua: "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return {'OK', ARGV[2]}" });
await new Promise((res) => r.once('ready', res));
let pending = null;
function call(i) {
  const args = [`e:{C:${i >> 8}}`, String(i & 255), String(-i)];
  if (mode === 'pipe') {
    if (!pending) { pending = r.pipeline(); setImmediate(() => { const p = pending; pending = null; p.exec(); }); }
    return pending.res(...args);
  }
  if (mode === 'cork') {
    if (!pending) { pending = true; r.stream.cork(); process.nextTick(() => { pending = null; r.stream.uncork(); }); }
  }
  return r.res(...args);
}
const rate = Number(process.env.RATE ?? 4000), dur = Number(process.env.DUR ?? 8000);
const t0 = performance.now(); let sent = 0, done = 0;
await new Promise((res) => {
  const iv = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    while (sent < due) { const i = sent++; call(i).then(() => done++); }
    if (performance.now() - t0 > dur) { clearInterval(iv); res(); }
  }, 1);
});
await new Promise((res) => setTimeout(res, 200));
console.error('done', done); r.disconnect();
