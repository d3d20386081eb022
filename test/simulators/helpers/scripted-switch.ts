// A scripted stand-in for the partner side of the switch, for the simulators' own tests: a TCP server with the
// project's framing and codec that answers 0800/0200/0220/0420 (and repeats) per a script, records what it got,
// and keeps a tiny "ledger" of what it paid so a load run can be reconciled. It is a test double for the peer only.
import net, { type AddressInfo } from 'node:net';
import { respond } from '../../../switch/handlers/respond.ts';
import { decode, encode, frame, FrameDecoder, signMessage, verifyMac, type IsoMessage } from '../../../switch/iso8583/index.ts';
import { amountTwd, parseOriginalData } from '../../../simulators/bank/fields.ts';

/** A response, null for "do not answer", or a response after a delay. */
export type Reply = IsoMessage | null | { delay_ms: number; response: IsoMessage };
export type Script = (msg: IsoMessage, sw: ScriptedSwitch) => Reply;

export interface ScriptedSwitchOptions {
  macKey?: Buffer;
  on0200?: Script;
  onAdvice?: Script;
  on0800?: Script;
}

export const approve: Script = (m) =>
  respond(m, 'APPROVED', { 15: '1203', ...(m.fields[3] === '310000' ? { 54: '0002C901000000600000' } : { 38: 'A' + m.fields[11]!.slice(1) }) });
export const acknowledge: Script = (m) => respond(m, 'APPROVED');

export class ScriptedSwitch {
  readonly received: IsoMessage[] = [];
  readonly macResults: string[] = [];
  readonly sockets = new Set<net.Socket>();
  /** Paid total, whole TWD: approved 0200s confirmed by 0220, or the DE95 amount of a partial 0420. */
  paidTwd = 0;
  connections = 0;
  script: Required<Omit<ScriptedSwitchOptions, 'macKey'>>;
  private readonly approved = new Map<string, number>();
  private readonly settled = new Set<string>();
  private server!: net.Server;
  port = 0;

  private constructor(private readonly macKey: Buffer | undefined, o: ScriptedSwitchOptions) {
    this.script = { on0200: o.on0200 ?? approve, onAdvice: o.onAdvice ?? acknowledge, on0800: o.on0800 ?? acknowledge };
  }

  static async start(o: ScriptedSwitchOptions = {}): Promise<ScriptedSwitch> {
    const s = new ScriptedSwitch(o.macKey, o);
    s.server = net.createServer((socket) => s.accept(socket));
    await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  of(mti: string): IsoMessage[] {
    return this.received.filter((m) => m.mti === mti);
  }

  /** Resolves with the first message (already received or arriving) that matches. */
  async waitFor(pred: (m: IsoMessage) => boolean, timeout_ms = 3_000): Promise<IsoMessage> {
    const until = Date.now() + timeout_ms;
    for (;;) {
      const m = this.received.find(pred);
      if (m) return m;
      if (Date.now() > until) throw new Error(`scripted switch: no matching message within ${timeout_ms} ms; got ${this.received.map((r) => r.mti).join(',')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async waitUntil(cond: () => boolean, timeout_ms = 3_000): Promise<void> {
    const until = Date.now() + timeout_ms;
    while (!cond()) {
      if (Date.now() > until) throw new Error(`scripted switch: condition not met within ${timeout_ms} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Sends a message to every connected client (e.g. the switch's own echo). */
  sendToAll(msg: IsoMessage): void {
    for (const s of this.sockets) this.write(s, msg);
  }

  /** Sends raw bytes (already encoded) to every client: for a corrupted MAC. */
  sendRawToAll(body: Buffer): void {
    for (const s of this.sockets) s.write(frame(body));
  }

  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  encodeFor(msg: IsoMessage): Buffer {
    return this.macKey ? signMessage(msg, this.macKey) : encode(msg);
  }

  private write(socket: net.Socket, msg: IsoMessage): void {
    if (!socket.destroyed) socket.write(frame(this.encodeFor(msg)));
  }

  private accept(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    const frames = new FrameDecoder();
    socket.on('data', (chunk) => {
      for (const body of frames.push(chunk)) {
        const msg = decode(body);
        if (this.macKey) this.macResults.push(verifyMac(body, this.macKey));
        this.received.push(msg);
        this.answer(socket, msg);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
  }

  private answer(socket: net.Socket, msg: IsoMessage): void {
    if (Number(msg.mti[2]) % 2 === 1) return; // a response (to our echo): recorded only
    const cls = msg.mti.slice(0, 2);
    const script = cls === '08' ? this.script.on0800 : cls === '02' && msg.mti === '0200' ? this.script.on0200 : this.script.onAdvice;
    const reply = script(msg, this);
    if (reply === null) return;
    const response = 'delay_ms' in reply ? reply.response : reply;
    const send = () => {
      this.book(msg, response);
      this.write(socket, response);
    };
    if ('delay_ms' in reply) setTimeout(send, reply.delay_ms);
    else send();
  }

  /** The double's ledger: an approval reserves, a 0220 pays, a 0420 pays only what DE95 says was dispensed. */
  private book(req: IsoMessage, res: IsoMessage): void {
    const key = (stan: string, de7: string, de32: string) => `${de32}|${stan}|${de7}`;
    if (req.mti === '0200' && res.fields[39] === '00' && req.fields[3] === '010000') {
      this.approved.set(key(req.fields[11]!, req.fields[7]!, req.fields[32]!), amountTwd(req.fields[4]));
      return;
    }
    if (res.fields[39] !== '00' || !/^0(22|42)/.test(req.mti)) return;
    const o = parseOriginalData(req.fields[90]);
    if (!o) return;
    const k = key(o.stan, o.transmission, req.fields[32]!);
    if (this.settled.has(k) || !this.approved.has(k)) return; // repeats are processed once
    this.settled.add(k);
    if (req.mti.startsWith('022')) this.paidTwd += this.approved.get(k)!;
    else if (req.fields[39] === '32') this.paidTwd += amountTwd(req.fields[95]?.slice(0, 12));
  }
}
