// Our ISO 8583:1987 profile as data: partner-interface.md §3, one row per data element.
// The codec, the MAC and the masking all read this table; a field the table does not name is a CodecError.
//
// Formats (§3): `n` ASCII digits; `an` / `ans` printable ASCII 0x20-0x7E (the interface defines no narrower
// set for `an`, whose fixed fields are space-padded anyway); `b` raw bytes, carried in IsoMessage as lowercase hex.
// `length` is the exact length of a fixed field, the maximum of a variable one; bytes for `b`, characters otherwise.

import { FIXED } from './prefix/fixed.ts';
import { LLVAR } from './prefix/llvar.ts';
import { LLLVAR } from './prefix/lllvar.ts';
import type { PrefixKind, Prefixer } from './prefix/prefixer.ts';

export type FieldFormat = 'n' | 'an' | 'ans' | 'b';

export interface FieldSpec {
  readonly field: number;
  readonly name: string;
  readonly format: FieldFormat;
  readonly length: number;
  readonly prefix: PrefixKind;
  readonly description: string;
}

/** The MTI: 4 ASCII digits before the bitmap. */
export const MTI_LENGTH = 4;
/** Each bitmap is 8 binary bytes; bit 1 of the primary announces the secondary (DE1). */
export const BITMAP_BYTES = 8;

export const PROFILE: readonly FieldSpec[] = [
  { field: 1, name: 'Secondary bitmap', format: 'b', length: 8, prefix: 'fixed', description: 'Fields 65-128; present when primary bit 1 is set. Written by the codec, never a message field' },
  { field: 2, name: 'Primary account number', format: 'n', length: 19, prefix: 'LLVAR', description: 'Masked bank card, informational only' },
  { field: 3, name: 'Processing code', format: 'n', length: 6, prefix: 'fixed', description: '010000 withdrawal, 310000 entitlement inquiry' },
  { field: 4, name: 'Amount, transaction', format: 'n', length: 12, prefix: 'fixed', description: 'TWD with 2 implied decimals (000000600000 = NT$6,000)' },
  { field: 7, name: 'Transmission date and time', format: 'n', length: 10, prefix: 'fixed', description: 'UTC, MMDDhhmmss' },
  { field: 11, name: 'System trace audit number', format: 'n', length: 6, prefix: 'fixed', description: 'STAN; with DE32, DE41, DE7 identifies a request' },
  { field: 12, name: 'Time, local transaction', format: 'n', length: 6, prefix: 'fixed', description: 'hhmmss at the ATM' },
  { field: 13, name: 'Date, local transaction', format: 'n', length: 4, prefix: 'fixed', description: 'MMDD at the ATM (Asia/Taipei); age is taken on this date' },
  { field: 15, name: 'Date, settlement', format: 'n', length: 4, prefix: 'fixed', description: 'MMDD, set by the switch' },
  { field: 18, name: 'Merchant type', format: 'n', length: 4, prefix: 'fixed', description: '6011 (ATM)' },
  { field: 22, name: 'POS entry mode', format: 'n', length: 3, prefix: 'fixed', description: 'Point of service entry mode' },
  { field: 25, name: 'POS condition code', format: 'n', length: 2, prefix: 'fixed', description: '02' },
  { field: 32, name: 'Acquiring institution ID', format: 'n', length: 11, prefix: 'LLVAR', description: "The bank's 3-digit code (004, 700, ...)" },
  { field: 33, name: 'Forwarding institution ID', format: 'n', length: 11, prefix: 'LLVAR', description: 'Forwarding institution' },
  { field: 37, name: 'Retrieval reference number', format: 'an', length: 12, prefix: 'fixed', description: 'Retrieval reference number' },
  { field: 38, name: 'Approval code', format: 'an', length: 6, prefix: 'fixed', description: 'Set by the switch on approval' },
  { field: 39, name: 'Response code', format: 'an', length: 2, prefix: 'fixed', description: 'partner-interface §7' },
  { field: 41, name: 'Terminal ID', format: 'ans', length: 8, prefix: 'fixed', description: 'Card acceptor terminal identification' },
  { field: 42, name: 'Card acceptor ID', format: 'ans', length: 15, prefix: 'fixed', description: 'Card acceptor identification code' },
  { field: 43, name: 'Terminal location', format: 'ans', length: 40, prefix: 'fixed', description: 'Card acceptor name/location' },
  { field: 44, name: 'Reason token', format: 'ans', length: 25, prefix: 'LLVAR', description: 'Why a request was declined (§7)' },
  { field: 48, name: 'Entitlement data', format: 'ans', length: 999, prefix: 'LLLVAR', description: 'Tag-length-value: NH (NHI card number), ID (claimant ID), CP (campaign); see de48.ts' },
  { field: 49, name: 'Currency code', format: 'n', length: 3, prefix: 'fixed', description: '901 (TWD)' },
  { field: 54, name: 'Additional amounts', format: 'an', length: 120, prefix: 'LLLVAR', description: 'Remaining entitlement on an inquiry: 00 02 C 901 n12' },
  { field: 64, name: 'MAC (primary)', format: 'b', length: 8, prefix: 'fixed', description: 'AES-CMAC, first 8 bytes, when no secondary bitmap (see mac.ts)' },
  { field: 70, name: 'Network management code', format: 'n', length: 3, prefix: 'fixed', description: '001 sign-on, 002 sign-off, 301 echo' },
  { field: 90, name: 'Original data elements', format: 'n', length: 42, prefix: 'fixed', description: 'MTI n4 + STAN n6 + DE7 n10 + acquirer n11 + forwarding n11' },
  { field: 95, name: 'Replacement amounts', format: 'an', length: 42, prefix: 'fixed', description: 'Amount actually dispensed n12 + 30 zeros' },
  { field: 128, name: 'MAC (secondary)', format: 'b', length: 8, prefix: 'fixed', description: 'AES-CMAC, first 8 bytes, when a secondary bitmap is present (see mac.ts)' },
];

export const SECONDARY_BITMAP_FIELD = 1;
export const MAC_PRIMARY_FIELD = 64;
export const MAC_SECONDARY_FIELD = 128;

export const PREFIXERS: Readonly<Record<PrefixKind, Prefixer>> = { fixed: FIXED, LLVAR, LLLVAR };

/** Row by field number (index 0..128), undefined for a field outside the profile. */
export const FIELD_SPECS: readonly (FieldSpec | undefined)[] = (() => {
  const byField: (FieldSpec | undefined)[] = new Array(129).fill(undefined);
  for (const spec of PROFILE) {
    // The table is data: check it once so a typo cannot produce frames nobody can read.
    if (!Number.isInteger(spec.field) || spec.field < 1 || spec.field > 128) throw new Error(`profile: bad field number ${spec.field}`);
    if (byField[spec.field]) throw new Error(`profile: DE${spec.field} defined twice`);
    if (spec.length < 1 || spec.length > PREFIXERS[spec.prefix].maxLength) throw new Error(`profile: DE${spec.field} length ${spec.length} does not fit ${spec.prefix}`);
    if (spec.format === 'b' && spec.prefix !== 'fixed') throw new Error(`profile: DE${spec.field} variable b fields are not supported`);
    byField[spec.field] = spec;
  }
  return byField;
})();

/** The spec of a data element a message may carry (DE1, the secondary bitmap, is not one). */
export function fieldSpec(field: number): FieldSpec | undefined {
  return field === SECONDARY_BITMAP_FIELD ? undefined : FIELD_SPECS[field];
}
