// How a field's data length is carried on the wire. One small file per kind (fixed, LLVAR, LLLVAR),
// all behind this interface so the codec walks every field the same way.

export type PrefixKind = 'fixed' | 'LLVAR' | 'LLLVAR';

export interface Prefixer {
  readonly kind: PrefixKind;
  /** Bytes the prefix itself takes on the wire (0 for fixed). */
  readonly bytes: number;
  /** The largest field length this prefix can announce. */
  readonly maxLength: number;
  /**
   * Reads the data length of a field whose prefix starts at `offset` in `buf` (the body ends at `end`).
   * `length` is the profile's length (fixed) or maximum (variable). The returned length always fits
   * in the bytes left after the prefix; anything else throws a CodecError naming `field`.
   */
  decodeLength(field: number, length: number, buf: Buffer, offset: number, end: number): number;
  /** Throws a CodecError when `dataLength` cannot be sent in a field of this profile `length`. */
  checkLength(field: number, length: number, dataLength: number): void;
  /** Writes the prefix for `dataLength` at `offset` and returns the offset after it. */
  writeLength(dataLength: number, buf: Buffer, offset: number): number;
}
