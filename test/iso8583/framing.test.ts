// partner-interface §2: 2-byte big-endian length frames, zero-length keep-alives, 2,048-byte maximum.
import test from 'ava';
import { LIMITS } from '../../switch/config.ts';
import { EventEmitter } from 'node:events';
import { FrameDecoder, FrameTooLargeError, frame, onFrames } from '../../switch/iso8583/framing.ts';
import { GOLDEN, bodyOf, frameOf } from './vectors.ts';

const hex = (bs: Buffer[]) => bs.map((b) => b.toString('hex'));

test('frame() prefixes the body with its length as 2 bytes big-endian, not counting itself', (t) => {
  for (const g of GOLDEN) t.is(frame(bodyOf(g)).toString('hex'), g.frame_hex);
  t.deepEqual([...frame(Buffer.alloc(300, 0x41)).subarray(0, 2)], [0x01, 0x2c]);
  t.is(frame(Buffer.alloc(0)).toString('hex'), '0000');
});

test('frame() refuses a body above the maximum message length', (t) => {
  t.is(frame(Buffer.alloc(LIMITS.MAX_FRAME_BYTES)).length, LIMITS.MAX_FRAME_BYTES + 2);
  t.throws(() => frame(Buffer.alloc(LIMITS.MAX_FRAME_BYTES + 1)), { instanceOf: FrameTooLargeError });
});

test('every golden frame split at every byte boundary yields exactly its body', (t) => {
  for (const g of GOLDEN) {
    const f = frameOf(g);
    for (let cut = 0; cut <= f.length; cut++) {
      const d = new FrameDecoder();
      const out = [...d.push(f.subarray(0, cut)), ...d.push(f.subarray(cut))];
      t.deepEqual(hex(out), [bodyOf(g).toString('hex')], `${g.name} cut at ${cut}`);
      t.is(d.pendingBytes, 0);
    }
  }
});

test('all golden frames in one stream, split at every byte boundary, yield every body in order', (t) => {
  const stream = Buffer.concat(GOLDEN.map(frameOf));
  const expected = GOLDEN.map((g) => bodyOf(g).toString('hex'));
  for (let cut = 0; cut <= stream.length; cut++) {
    const d = new FrameDecoder();
    const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
    if (JSON.stringify(hex(out)) !== JSON.stringify(expected)) t.fail(`cut at ${cut}`);
  }
  t.pass();
});

test('a stream fed one byte at a time yields every body, each when its last byte arrives', (t) => {
  const stream = Buffer.concat(GOLDEN.map(frameOf));
  const d = new FrameDecoder();
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) {
    const got = d.push(stream.subarray(i, i + 1));
    out.push(...got);
    if (got.length) t.is(d.pendingBytes, 0);
  }
  t.deepEqual(hex(out), GOLDEN.map((g) => bodyOf(g).toString('hex')));
});

test('several frames in one read all come out', (t) => {
  const d = new FrameDecoder();
  const out = d.push(Buffer.concat(GOLDEN.slice(0, 3).map(frameOf)));
  t.deepEqual(hex(out), GOLDEN.slice(0, 3).map((g) => bodyOf(g).toString('hex')));
});

test('zero-length keep-alives are dropped and counted', (t) => {
  const d = new FrameDecoder();
  const echo = frameOf(GOLDEN[2]!);
  const out = d.push(Buffer.concat([Buffer.from([0, 0]), echo, Buffer.from([0, 0, 0])]));
  t.deepEqual(hex(out), [echo.subarray(2).toString('hex')]);
  t.is(d.keepAlives, 2);
  t.is(d.pendingBytes, 1);
  t.deepEqual(d.push(Buffer.from([0])), []);
  t.is(d.keepAlives, 3);
  t.is(d.pendingBytes, 0);
});

test('an announced length above the maximum throws FrameTooLargeError as soon as the prefix is read', (t) => {
  const d = new FrameDecoder();
  const e = t.throws(() => d.push(Buffer.from([0x08, 0x01])), { instanceOf: FrameTooLargeError });
  t.is(e?.announcedBytes, 2049);
  t.is(e?.maxFrameBytes, LIMITS.MAX_FRAME_BYTES);
  // The connection is to be closed: the decoder refuses everything after.
  t.throws(() => d.push(frameOf(GOLDEN[0]!)), { instanceOf: FrameTooLargeError });
});

test('a frame of exactly the maximum length is accepted', (t) => {
  const d = new FrameDecoder(100);
  t.is(d.push(frame(Buffer.alloc(100, 1), 100))[0]?.length, 100);
  t.throws(() => new FrameDecoder(100).push(Buffer.from([0, 101])), { instanceOf: FrameTooLargeError });
});

test('frames before an oversized one in the same read are not returned: the connection closes', (t) => {
  const d = new FrameDecoder();
  t.throws(() => d.push(Buffer.concat([frameOf(GOLDEN[0]!), Buffer.from([0xff, 0xff])])), { instanceOf: FrameTooLargeError });
});

test('an incomplete frame is held and reported by pendingBytes, at most one frame of memory', (t) => {
  const d = new FrameDecoder();
  const f = frameOf(GOLDEN[3]!);
  t.deepEqual(d.push(f.subarray(0, 50)), []);
  t.is(d.pendingBytes, 50);
  t.is(d.push(f.subarray(50)).length, 1);
  t.is(d.pendingBytes, 0);
});

test('a maximum above 65,535 bytes leaves only the 2-byte prefix as the limit', (t) => {
  const d = new FrameDecoder(64 * 1024);
  t.is(d.push(Buffer.concat([Buffer.from([0xff, 0xff]), Buffer.alloc(0xffff, 1)]))[0]?.length, 0xffff);
  t.throws(() => new FrameDecoder(-1), { instanceOf: RangeError });
});

test('onFrames() hands over each body as its frame completes, across chunks, skips keep-alives, and closes the connection on a frame too large', (t) => {
  const socket = Object.assign(new EventEmitter(), { destroyed: 0, destroy() { this.destroyed++; } });
  const bodies: string[] = [];
  onFrames(socket, 8, (b) => bodies.push(b.toString()));
  const two = Buffer.concat([frame(Buffer.from('abc')), frame(Buffer.alloc(0)), frame(Buffer.from('defg'))]);
  socket.emit('data', two.subarray(0, 4));
  t.deepEqual(bodies, []);
  socket.emit('data', two.subarray(4));
  t.deepEqual(bodies, ['abc', 'defg']);
  t.is(socket.destroyed, 0);
  socket.emit('data', Buffer.from([0x00, 0x09]));
  t.is(socket.destroyed, 1);
  t.deepEqual(bodies, ['abc', 'defg']);
});
