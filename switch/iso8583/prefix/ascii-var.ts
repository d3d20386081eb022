// Variable-length fields whose length is sent as `digits` ASCII digits before the data (LLVAR, LLLVAR).

import { CodecError } from '../errors.ts';
import type { PrefixKind, Prefixer } from './prefixer.ts';

export function asciiVarPrefixer(kind: Exclude<PrefixKind, 'fixed'>, digits: number): Prefixer {
  const maxLength = 10 ** digits - 1;
  return {
    kind,
    bytes: digits,
    maxLength,
    decodeLength(field, length, buf, offset, end) {
      if (end - offset < digits) throw new CodecError(field, 'truncated', `${kind} prefix needs ${digits} bytes, ${end - offset} left`);
      let n = 0;
      for (let i = offset; i < offset + digits; i++) {
        const d = buf[i]! - 0x30;
        if (d < 0 || d > 9) throw new CodecError(field, 'bad_length_prefix', `${kind} prefix byte ${i - offset + 1} is not a digit`);
        n = n * 10 + d;
      }
      if (n > length) throw new CodecError(field, 'length_exceeds_max', `announced ${n} > max ${length}`);
      const left = end - offset - digits;
      if (n > left) throw new CodecError(field, 'length_exceeds_remaining', `announced ${n}, ${left} bytes left`);
      return n;
    },
    checkLength(field, length, dataLength) {
      if (dataLength > length) throw new CodecError(field, 'value_too_long', `${dataLength} > max ${length}`);
    },
    writeLength(dataLength, buf, offset) {
      for (let i = digits - 1; i >= 0; i--) {
        buf[offset + i] = 0x30 + (dataLength % 10);
        dataLength = Math.floor(dataLength / 10);
      }
      return offset + digits;
    },
  };
}
