import test from 'ava';
import { randomBytes } from 'node:crypto';
import { bulkHasher } from '../../switch/roster/bulk-hash.ts';
import { campaignKey, hashIdentifier } from '../../switch/roster/hashing.ts';
import { seededRandom } from '../../switch/roster/identity.ts';

test('bulk hashes equal hashIdentifier byte for byte, for every message length that fits one block and beyond', (t) => {
  const rnd = seededRandom(3);
  const out = Buffer.alloc(64);
  for (let k = 0; k < 20; k++) {
    const key = k === 0 ? campaignKey('dev', 'CASH2026') : randomBytes(1 + Math.floor(rnd() * 64));
    const hash = bulkHasher(key);
    for (let len = 0; len <= 70; len++) {
      for (const kind of ['id', 'nhi'] as const) {
        let value = '';
        for (let i = 0; i < len; i++) value += String.fromCharCode(0x20 + Math.floor(rnd() * 95));
        hash(kind, value, out, 16);
        t.deepEqual(out.subarray(16, 48), hashIdentifier(key, kind, value), `${kind} length ${len}`);
      }
    }
  }
});

test('non-ASCII values hash as hashIdentifier does (UTF-8)', (t) => {
  const key = campaignKey('dev', 'C');
  const out = Buffer.alloc(32);
  bulkHasher(key)('id', 'Ａ123456789', out, 0);
  t.deepEqual(out, hashIdentifier(key, 'id', 'Ａ123456789'));
});

test('refuses keys longer than one block', (t) => {
  t.throws(() => bulkHasher(Buffer.alloc(65)), { message: /at most 64 bytes/ });
});
