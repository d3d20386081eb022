// BullMQ jobs of the ledger. A delayed job per group of withdrawals approved together (its id is the first
// withdrawal's, so adding it twice is harmless) triggers their settlement when the confirmation window ends; the
// ledger decides on its own clock whether each is due and does nothing for one confirmed or reversed meanwhile.
// One job per group, not per withdrawal: a BullMQ add is a heavy Lua script, and one per approval cost the
// money path a fifth of its Redis time. Jobs live in
// Redis and survive restarts; a periodic sweep settles whatever a lost job (Redis flushed) would have, and a
// periodic purge drops stored answers and tombstones older than 48 hours.
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import { LEDGER_LIMITS } from '../ledger/limits.ts';
import { beforeDeadline } from '../ledger/deadline.ts';

export const SETTLEMENT_QUEUE = 'ledger';
const SETTLE_ATTEMPTS = 10;
const SETTLE_BACKOFF_MS = 1_000;
const WORKER_CONCURRENCY = 8;
/** Withdrawals per settlement job (a group commit's approvals fit in one). */
export const MAX_IDS_PER_JOB = 512;
const SCHEDULER_SETUP_TIMEOUT_MS = 5_000;
const SCHEDULER_RETRY_MS = 10_000;
/** Failed jobs are kept this long for inspection. */
const KEEP_FAILED_S = 7 * 86_400;

export interface SettlementDeps {
  redisUrl: string;
  logger: Logger;
  /** Settles those of these withdrawals that are due and still reserved; returns how many it settled. */
  settle(withdrawalIds: string[]): Promise<number>;
  /** Settles every withdrawal that is due. */
  sweep(): Promise<number>;
  purge(): Promise<unknown>;
}

export class SettlementJobs {
  private queue: Queue | null = null;
  private worker: Worker | null = null;
  private connections: Redis[] = [];
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly deps: SettlementDeps) {}

  async start(): Promise<void> {
    const queueConnection = new Redis(this.deps.redisUrl, { maxRetriesPerRequest: null, enableOfflineQueue: false });
    const workerConnection = new Redis(this.deps.redisUrl, { maxRetriesPerRequest: null });
    for (const c of [queueConnection, workerConnection]) c.on('error', () => {}); // reconnects by itself; failures show up as 91s
    this.connections = [queueConnection, workerConnection];
    this.queue = new Queue(SETTLEMENT_QUEUE, { connection: queueConnection });
    this.queue.on('error', (e) => this.deps.logger.warn('job queue error', { error: e.message }));
    this.worker = new Worker(SETTLEMENT_QUEUE, (job) => this.process(job), {
      connection: workerConnection,
      concurrency: WORKER_CONCURRENCY,
    });
    this.worker.on('error', (e) => this.deps.logger.warn('job worker error', { error: e.message }));
    this.worker.on('failed', (job, e) => this.deps.logger.warn('job failed', { job: job?.name, error: e.message }));
    await this.setUpSchedulers();
  }

  /** The periodic sweep and purge; while Redis is away, retried in the background instead of holding up the start. */
  private async setUpSchedulers(): Promise<void> {
    const queue = this.queue;
    if (!queue) return;
    try {
      await beforeDeadline(
        (async () => {
          await queue.waitUntilReady();
          await queue.upsertJobScheduler('sweep', { every: LEDGER_LIMITS.SETTLE_SWEEP_INTERVAL_MS }, { name: 'sweep' });
          await queue.upsertJobScheduler('purge', { every: LEDGER_LIMITS.PURGE_INTERVAL_MS }, { name: 'purge' });
        })(),
        Date.now() + SCHEDULER_SETUP_TIMEOUT_MS,
        'job schedulers',
      );
    } catch (e) {
      this.deps.logger.warn('job schedulers not set up yet (retrying)', { error: (e as Error).message });
      this.retry = setTimeout(() => void this.setUpSchedulers(), SCHEDULER_RETRY_MS);
      this.retry.unref();
    }
  }

  /** Asks for the settlement of these withdrawals (at most MAX_IDS_PER_JOB) once their window has passed. */
  async schedule(withdrawalIds: string[], delayMs: number): Promise<void> {
    if (!this.queue) throw new Error('settlement jobs are not started');
    if (withdrawalIds.length === 0 || withdrawalIds.length > MAX_IDS_PER_JOB) {
      throw new Error(`a settlement job takes 1 to ${MAX_IDS_PER_JOB} withdrawals, not ${withdrawalIds.length}`);
    }
    await this.queue.add('settle', { withdrawalIds }, {
      jobId: `settle-${withdrawalIds[0]}`,
      delay: delayMs,
      attempts: SETTLE_ATTEMPTS,
      backoff: { type: 'exponential', delay: SETTLE_BACKOFF_MS },
      removeOnComplete: true,
      removeOnFail: { age: KEEP_FAILED_S },
    });
  }

  async stop(): Promise<void> {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    await this.worker?.close().catch(() => {});
    await this.queue?.close().catch(() => {});
    for (const c of this.connections) c.disconnect();
    this.worker = null;
    this.queue = null;
    this.connections = [];
  }

  private async process(job: Job): Promise<number> {
    if (job.name === 'settle') {
      // { withdrawalId } is the shape of jobs queued before groups existed: they still settle.
      const data = job.data as { withdrawalIds?: string[]; withdrawalId?: string };
      return this.deps.settle((data.withdrawalIds ?? [data.withdrawalId]).map(String));
    }
    if (job.name === 'sweep') return this.deps.sweep();
    if (job.name === 'purge') {
      await this.deps.purge();
      return 0;
    }
    throw new Error(`unknown job ${job.name}`);
  }
}
