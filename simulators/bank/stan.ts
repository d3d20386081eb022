// The bank's system trace audit number (DE11): one sequence per bank, n6, 000001 … 999999, then wraps to 000001.

export const MAX_STAN = 999_999;

export class StanGenerator {
  private last: number;

  /** `start` is the last number used (0: the next is 000001). */
  constructor(start = 0) {
    if (!Number.isInteger(start) || start < 0 || start > MAX_STAN) throw new RangeError(`STAN start must be 0..${MAX_STAN}`);
    this.last = start;
  }

  next(): string {
    this.last = this.last >= MAX_STAN ? 1 : this.last + 1;
    return String(this.last).padStart(6, '0');
  }
}
