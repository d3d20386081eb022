// How the ledger names a message (partner-interface §6): its class, its key, its body, the original it points at.
import { hash } from 'node:crypto';
import type { IsoMessage } from '../iso8583/message.ts';

/** A repeat (0221, 0421) is in the class of its original (0220, 0420): "020", "022", "042". */
export function mtiClass(mti: string): string {
  return mti.slice(0, 3);
}

/** DE32|DE41|DE11|DE7. DE32 is digits and DE41, DE11, DE7 have fixed lengths, so the key is unambiguous. */
export function messageKey(f: IsoMessage['fields']): string {
  return `${f[32]}|${f[41]}|${f[11]}|${f[7]}`;
}

/**
 * The key of the 0200 an advice or reversal names: its own DE32 and DE41 with the STAN and DE7 from DE90
 * (MTI n4 + STAN n6 + DE7 n10 + acquirer n11 + forwarding n11). The bank and terminal come from the advice
 * itself, so an advice can only ever name a withdrawal of its own bank.
 */
export function originalKey(f: IsoMessage['fields']): string {
  const de90 = f[90] ?? '';
  return `${f[32]}|${f[41]}|${de90.slice(4, 10)}|${de90.slice(10, 20)}`;
}

export const MAC_BYTES = 8;

/**
 * What "the same body" means: SHA-256 of the request bytes after the MTI and before the MAC, so that a repeat
 * (0221 after 0220: another MTI, hence another MAC) is the same body, and any other change is not.
 */
export function bodyHash(body: Buffer, req: IsoMessage): Buffer {
  const mac = req.fields[64] !== undefined || req.fields[128] !== undefined;
  // One-shot: a Hash object per request is a native object whose weak handle every young-generation collection visits.
  return hash('sha256', body.subarray(4, mac ? body.length - MAC_BYTES : body.length), 'buffer');
}

/** n12 amounts (DE4, DE95) in minor units. */
export function amountMinor(n12: string | undefined): number {
  return n12 && /^\d{1,12}$/.test(n12) ? Number(n12) : NaN;
}

/** DE95: the amount actually dispensed (first 12 digits); absent means nothing was dispensed. */
export function dispensedMinor(f: IsoMessage['fields']): number {
  const de95 = f[95];
  return de95 === undefined ? 0 : amountMinor(de95.slice(0, 12));
}

export function n12(minor: number): string {
  return String(minor).padStart(12, '0');
}
