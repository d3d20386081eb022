// What the message handlers (switch/handlers/) use of the ledger. Built once by createLedger (index.ts).
import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { IsoMessage } from '../iso8583/message.ts';
import type { Bank } from '../banks.ts';
import type { Batcher } from './batcher.ts';
import type { CampaignCache } from './campaign-cache.ts';
import type { KeyLock } from './dedupe.ts';
import type { Slots } from './slots.ts';
import type { GroupCommit } from './group-commit.ts';
import type { AdviceResult, ConfirmOp, ReadQuery, ReadResult, Settled } from './journal.ts';
import type { RedisRecovery } from './recovery.ts';
import type { Reservations } from './reservations.ts';
import type { RosterCopies } from './roster-copies.ts';
import type { Latencies } from '../link/latency.ts';

export interface RequestContext {
  /** The signed-on bank (switch/banks.ts). */
  bank: Bank;
  /** The request's raw bytes from the MTI on (MAC included), for the duplicate body hash. */
  body: Buffer;
}

export type Handler = (req: IsoMessage, ctx: RequestContext) => Promise<IsoMessage>;

export interface LedgerCore {
  db: Knex;
  clock: Clock;
  logger: Logger;
  campaigns: CampaignCache;
  recovery: RedisRecovery;
  reservations: Reservations;
  /** In-memory copies of the open campaigns' rosters (withdrawals decided without a PostgreSQL read). */
  rosters: RosterCopies;
  reads: Batcher<ReadQuery, ReadResult>;
  commits: GroupCommit;
  /** 0220/0221s recorded together (CONFIRM_BATCH_SQL). */
  confirms: Batcher<ConfirmOp, AdviceResult<Settled>>;
  keyLock: KeyLock;
  /** Advices using PostgreSQL at once: so that a burst of them cannot take the connections the 0200s' batches need. */
  advices: Slots;
  /**
   * How long a 0200 waited on each store, where its time goes (ops API): 'roster_read' (when not decided from the
   * copy), 'redis_reserve', 'group_commit'.
   */
  stages: Latencies;
  /** Asks for the settlement of an approved withdrawal when its confirmation window ends (best effort: a sweep backs it). */
  scheduleSettlement(withdrawalId: string, windowMs: number): void;
}
