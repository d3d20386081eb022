// A partner host for tests: raw frames out, decoded messages in, in arrival order.
import net from 'node:net';
import tls from 'node:tls';
import type { IsoMessage } from '../../switch/iso8583/message.ts';
import { decode, encode } from '../../switch/iso8583/codec.ts';
import { FrameDecoder, frame } from '../../switch/iso8583/framing.ts';
import { signMessage } from '../../switch/iso8583/mac.ts';

export class IsoClient {
  readonly received: Array<{ msg: IsoMessage; body: Buffer }> = [];
  closed = false;
  private waiters: Array<() => void> = [];
  private readonly decoder = new FrameDecoder(0xffff);

  private constructor(readonly socket: net.Socket | tls.TLSSocket) {
    socket.on('data', (chunk) => {
      for (const body of this.decoder.push(chunk)) this.received.push({ msg: decode(body), body });
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<IsoClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => resolve(new IsoClient(s)));
      s.once('error', reject);
    });
  }

  /** Over TLS, with a client certificate (or none, to see the switch refuse it). */
  static connectTls(port: number, options: tls.ConnectionOptions): Promise<IsoClient> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ port, host: '127.0.0.1', ...options }, () => resolve(new IsoClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  send(msg: IsoMessage, macKey?: Buffer): void {
    this.socket.write(frame(macKey ? signMessage(msg, macKey) : encode(msg)));
  }

  /** Waits for the next message that matches (default: any), up to timeout_ms; removes and returns it. */
  async next(match: (m: IsoMessage) => boolean = () => true, timeoutMs = 5_000): Promise<IsoMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.received.findIndex((r) => match(r.msg));
      if (i >= 0) return this.received.splice(i, 1)[0]!.msg;
      if (this.closed) throw new Error('connection closed while waiting for a message');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no matching message within the timeout');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Resolves true when the peer closes the connection within timeout_ms. */
  async waitClosed(timeoutMs = 5_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}
