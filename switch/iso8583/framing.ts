// TCP framing (partner-interface §2): every message is preceded by a 2-byte unsigned big-endian length
// that does not count itself. A zero length is a keep-alive. An announced length above the maximum is a
// protocol violation: the connection is closed, so the decoder refuses to continue after it.

import { LIMITS } from '../config.ts';

export const LENGTH_PREFIX_BYTES = 2;

export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError';
  constructor(
    readonly announcedBytes: number,
    readonly maxFrameBytes: number,
  ) {
    super(`frame of ${announcedBytes} bytes exceeds the maximum of ${maxFrameBytes} bytes`);
  }
}

/** Adds the 2-byte length prefix. A zero-length body makes a keep-alive. */
export function frame(body: Buffer, maxFrameBytes: number = LIMITS.MAX_FRAME_BYTES): Buffer {
  if (body.length > maxFrameBytes) throw new FrameTooLargeError(body.length, maxFrameBytes);
  const out = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + body.length);
  out.writeUInt16BE(body.length, 0);
  body.copy(out, LENGTH_PREFIX_BYTES);
  return out;
}

/**
 * Cuts a byte stream into message bodies. Holds at most one incomplete frame (≤ maxFrameBytes + 2 bytes).
 * Returned bodies are views into the pushed chunks (no copy): do not reuse a chunk's memory after pushing it.
 */
export class FrameDecoder {
  /** Zero-length frames seen (dropped, not returned). */
  keepAlives = 0;
  private pending: Buffer | null = null;
  private failed: FrameTooLargeError | null = null;

  constructor(readonly maxFrameBytes: number = LIMITS.MAX_FRAME_BYTES) {
    // Above 65,535 means no limit beyond the 2-byte prefix's own.
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 0) {
      throw new RangeError(`maxFrameBytes must be a non-negative integer, got ${maxFrameBytes}`);
    }
  }

  /** Bytes of an incomplete frame waiting for the rest (for the read timeout). */
  get pendingBytes(): number {
    return this.pending === null ? 0 : this.pending.length;
  }

  /** Returns every body completed by this chunk, in order. Throws FrameTooLargeError, then on every later push. */
  push(chunk: Buffer): Buffer[] {
    if (this.failed) throw this.failed;
    const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    const bodies: Buffer[] = [];
    let offset = 0;
    while (buf.length - offset >= LENGTH_PREFIX_BYTES) {
      const length = buf.readUInt16BE(offset);
      if (length > this.maxFrameBytes) {
        this.failed = new FrameTooLargeError(length, this.maxFrameBytes);
        throw this.failed;
      }
      const start = offset + LENGTH_PREFIX_BYTES;
      if (buf.length - start < length) break;
      if (length === 0) this.keepAlives++;
      else bodies.push(buf.subarray(start, start + length));
      offset = start + length;
    }
    // Keep only the incomplete tail; copy it so a large chunk is not retained for a few bytes.
    if (offset < buf.length) this.pending = Buffer.from(buf.subarray(offset));
    return bodies;
  }
}

/**
 * Calls `onBody` with the body of each frame that arrives on `socket` (keep-alives are skipped). A frame that
 * breaks the framing closes the connection: nothing after it can be trusted to start on a frame boundary.
 */
export function onFrames(socket: Pick<NodeJS.EventEmitter, 'on'> & { destroy(): void }, maxFrameBytes: number, onBody: (body: Buffer) => void): void {
  const frames = new FrameDecoder(maxFrameBytes);
  socket.on('data', (chunk: Buffer) => {
    let bodies: Buffer[];
    try {
      bodies = frames.push(chunk);
    } catch {
      socket.destroy();
      return;
    }
    for (const body of bodies) onBody(body);
  });
}
