// Fixed-length fields: no prefix, the profile says how many bytes follow.

import { CodecError } from '../errors.ts';
import type { Prefixer } from './prefixer.ts';

export const FIXED: Prefixer = {
  kind: 'fixed',
  bytes: 0,
  maxLength: Number.MAX_SAFE_INTEGER,
  decodeLength(field, length, _buf, offset, end) {
    if (end - offset < length) throw new CodecError(field, 'truncated', `needs ${length} bytes, ${end - offset} left`);
    return length;
  },
  checkLength(field, length, dataLength) {
    // Exactly the length: a fixed field is never padded or cut by the codec (callers pad, see padFixed).
    if (dataLength > length) throw new CodecError(field, 'value_too_long', `${dataLength} > fixed length ${length}`);
    if (dataLength < length) throw new CodecError(field, 'value_too_short', `${dataLength} < fixed length ${length}`);
  },
  writeLength(_dataLength, _buf, offset) {
    return offset;
  },
};
