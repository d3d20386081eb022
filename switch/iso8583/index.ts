// The public face of the ISO 8583 layer: wire codec, framing, MAC, DE48 and log-safe descriptions.
export type { FieldValues, IsoMessage } from './message.ts';
export { CodecError, fieldLabel, type CodecErrorField, type CodecErrorReason } from './errors.ts';
export { decode, encode, hasSecondaryBitmap, padFixed } from './codec.ts';
export {
  PROFILE,
  FIELD_SPECS,
  fieldSpec,
  MTI_LENGTH,
  BITMAP_BYTES,
  MAC_PRIMARY_FIELD,
  MAC_SECONDARY_FIELD,
  type FieldSpec,
  type FieldFormat,
} from './profile.ts';
export { FrameDecoder, FrameTooLargeError, frame, LENGTH_PREFIX_BYTES, onFrames } from './framing.ts';
export { aesCmac, macFor, signMessage, verifyMac, MAC_BYTES } from './mac.ts';
export { parseTlv, buildTlv } from './de48.ts';
export { describe, describeBytes, maskPan } from './mask.ts';
