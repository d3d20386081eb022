// Flag checks shared by the simulator CLIs: each failure is a UsageError with a one-line reason naming the flag.
import { UsageError } from '../../switch/ctl.ts';

export { UsageError };
export { parseArgs } from '../../switch/ctl.ts';

/** `[HOST:]PORT`; port 0 (any free port) only for a listener. */
export function hostPort(value: string | undefined, flag: string, listening = false): { host: string; port: number } {
  if (value === undefined) throw new UsageError(`${flag} HOST:PORT is required`);
  const m = /^(?:(.+):)?(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  const min = listening ? 0 : 1;
  if (!m || port < min || port > 65535) throw new UsageError(`${flag} must be HOST:PORT (port ${min}-65535), got "${value}"`);
  return { host: m[1] ?? '127.0.0.1', port };
}

export function intFlag(opts: Record<string, string>, name: string, min: number, max: number, fallback: number): number {
  const v = opts[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${v}"`);
  return n;
}

export function numberFlag(opts: Record<string, string>, name: string, min: number, max: number): number | undefined {
  const v = opts[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number from ${min} to ${max}, got "${v}"`);
  return n;
}

export function bankCodeFlag(value: string | undefined, flag: string): string {
  if (value === undefined) throw new UsageError(`${flag} CODE is required`);
  if (!/^\d{1,11}$/.test(value)) throw new UsageError(`${flag} must be the bank's code, 1 to 11 digits, got "${value}"`);
  return value;
}

export function macKeyFlag(value: string | undefined): Buffer | null {
  if (value === undefined) return null;
  if (!/^[0-9a-fA-F]{32}$/.test(value)) throw new UsageError('--mac-key must be 32 hex digits (an AES-128 key)');
  return Buffer.from(value, 'hex');
}

/** Resolves on the first SIGTERM or SIGINT. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(s);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

/** One line rewritten in place on a TTY; nothing otherwise. */
export function liveLine(stream: NodeJS.WriteStream): { show(line: string): void; done(): void } {
  let shown = false;
  return {
    show(line) {
      if (!stream.isTTY) return;
      stream.write(`\r${line.slice(0, (stream.columns || 120) - 1)}\x1b[K`);
      shown = true;
    },
    done() {
      if (shown) stream.write('\n');
      shown = false;
    },
  };
}
