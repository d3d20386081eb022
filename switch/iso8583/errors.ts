// Typed codec errors. The link turns a CodecError into a reply (response MTI with 39=30) when it can,
// or a log line and a dropped frame when it cannot; so every error says where it happened and why,
// and never quotes a field's content (it may hold personal data).

import type { FieldValues } from './message.ts';

/** Where the problem is: a data element number, or a part of the frame that is not a data element. */
export type CodecErrorField = number | 'mti' | 'bitmap' | 'frame';

export type CodecErrorReason =
  // decoding
  | 'truncated' // the body ends inside the MTI, a bitmap, a length prefix or a fixed field
  | 'bad_length_prefix' // an LLVAR/LLLVAR prefix that is not all ASCII digits
  | 'length_exceeds_max' // an announced length above the field's maximum
  | 'length_exceeds_remaining' // an announced length longer than the bytes left in the body
  | 'trailing_bytes' // bytes left after the last field the bitmap names
  // decoding and encoding
  | 'bad_mti' // MTI not 4 ASCII digits
  | 'field_not_in_profile' // a bitmap bit / field number our profile does not define
  | 'non_digit' // a byte other than 0-9 in an `n` field
  | 'non_printable' // a byte outside 0x20-0x7E in an `an`/`ans` field
  // encoding
  | 'value_too_long' // value longer than a fixed field's length or a variable field's maximum
  | 'value_too_short' // value shorter than a fixed field's length (the codec never pads: see codec.ts)
  | 'missing_value' // a field key present whose value is not a string
  | 'bad_hex' // a `b` field that is not lowercase hex of exactly its length
  // DE48 tag-length-value
  | 'bad_tlv';

export class CodecError extends Error {
  override readonly name = 'CodecError';
  readonly field: CodecErrorField;
  readonly reason: CodecErrorReason;
  /**
   * Decode only, set together with `partial` once the MTI and the bitmap(s) were read: the message can
   * still be answered (response MTI, 39=30). Both are undefined for a frame to log and drop (§7, last line).
   */
  mti?: string;
  /** Decode only: the fields decoded before the failure (see `mti`). */
  partial?: FieldValues;

  /** `detail` is a short human addition (offsets, lengths): never a field's content. */
  constructor(field: CodecErrorField, reason: CodecErrorReason, detail?: string) {
    super(`${fieldLabel(field)}: ${reason}${detail ? ` (${detail})` : ''}`);
    this.field = field;
    this.reason = reason;
  }
}

export function fieldLabel(field: CodecErrorField): string {
  return typeof field === 'number' ? `DE${field}` : field;
}
