// Group commit: requests that arrive together share one round trip. A batch closes when it holds maxBatch
// requests or maxWaitMs after the first one arrived; while batches run, newcomers gather for the next one.
// The queue is bounded: beyond maxQueue a request is refused at once instead of waiting without end.

export interface BatcherOptions {
  name: string;
  maxBatch: number;
  /** 0: close the batch at the end of the current event-loop turn. */
  maxWaitMs: number;
  maxQueue: number;
  /** Batches running at once. */
  concurrency: number;
}

export class QueueFull extends Error {}

interface Waiting<T, R> {
  item: T;
  resolve(r: R): void;
  reject(e: unknown): void;
}

export class Batcher<T, R> {
  private queue: Waiting<T, R>[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private idle: Array<() => void> = [];
  private stopped = false;

  /** `run` returns one result per item, in order; if it throws, every item of the batch gets that error. */
  constructor(private readonly run: (items: T[]) => Promise<R[]>, private readonly opts: BatcherOptions) {}

  get queued(): number {
    return this.queue.length;
  }

  submit(item: T): Promise<R> {
    if (this.stopped) return Promise.reject(new QueueFull(`${this.opts.name} is stopped`));
    if (this.queue.length >= this.opts.maxQueue) {
      return Promise.reject(new QueueFull(`${this.opts.name} queue is full (${this.opts.maxQueue})`));
    }
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Runs what is queued and waits for every batch to finish; later submissions are refused. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.queue.length === 0 && this.running === 0) return;
    this.clearTimer();
    while (this.queue.length > 0 && this.running < this.opts.concurrency) this.flush();
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private clearTimer(): void {
    if (this.timer === null) return;
    if (this.opts.maxWaitMs > 0) clearTimeout(this.timer as NodeJS.Timeout);
    else clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = null;
  }

  private schedule(): void {
    while (this.running < this.opts.concurrency && this.queue.length >= this.opts.maxBatch) this.flush();
    if (this.queue.length === 0 || this.running >= this.opts.concurrency || this.timer !== null) return;
    const fire = () => {
      this.timer = null;
      if (this.running < this.opts.concurrency && this.queue.length > 0) this.flush();
      this.schedule();
    };
    this.timer = this.opts.maxWaitMs > 0 ? setTimeout(fire, this.opts.maxWaitMs) : setImmediate(fire);
  }

  private flush(): void {
    const batch = this.queue.splice(0, this.opts.maxBatch);
    if (batch.length === 0) return;
    this.running++;
    this.run(batch.map((w) => w.item))
      .then(
        (results) => {
          if (results.length !== batch.length) throw new Error(`${this.opts.name}: ${results.length} results for ${batch.length} items`);
          batch.forEach((w, i) => w.resolve(results[i]!));
        },
        (e) => batch.forEach((w) => w.reject(e)),
      )
      .catch((e) => batch.forEach((w) => w.reject(e)))
      .finally(() => {
        this.running--;
        // Whoever queued while this batch ran has waited long enough: go at once.
        if (this.queue.length > 0 && this.running < this.opts.concurrency) {
          this.clearTimer();
          this.flush();
        }
        this.schedule();
        if (this.running === 0 && this.queue.length === 0) this.idle.splice(0).forEach((r) => r());
      });
  }
}
