// `ctl campaign open <code>` and `ctl campaign close <code>` (operations.md), and what `roster import` does
// after it commits: take the changed beneficiaries into the ledger at once. switch/ctl.ts registers
// `ledgerCommands()`; ctl.ts's exports are read only when a command runs, because ctl.ts imports this module.
import { UsageError, type CtlContext } from '../ctl.ts';
import { setRosterChangeHandler } from './campaign.ts';
import { loadConfig } from '../config.ts';
import { systemClock } from '../clock.ts';
import { createLogger } from '../log.ts';
import { createRedis } from '../redis.ts';
import { closeCampaign, openCampaign, refreshBeneficiaries, type ControlDeps } from '../ledger/opening.ts';

/** Loading a large campaign into Redis sends big pipelines: allow them more than the money path's bound. */
const CTL_REDIS_COMMAND_TIMEOUT_MS = 30_000;

async function withRedis<T>(ctx: CtlContext, fn: (d: ControlDeps) => Promise<T>): Promise<T> {
  const redis = createRedis(loadConfig().redisUrl, { enableOfflineQueue: true, commandTimeout: CTL_REDIS_COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 2 });
  redis.on('error', () => {});
  try {
    return await fn({ db: ctx.db, redis, clock: systemClock, logger: createLogger({ svc: 'ctl' }, 'warn') });
  } finally {
    redis.disconnect();
  }
}

/** A function declaration (hoisted): ctl.ts may call it before this module has run (the import cycle). */
export function ledgerCommands() {
  return {
    async 'campaign open'(ctx: CtlContext, args: string[]) {
      const code = args[0];
      if (!code || args.length > 1) throw new UsageError('usage: campaign open <code>');
      const r = await withRedis(ctx, (d) => openCampaign(d, code));
      ctx.out(`campaign ${code} open: ${r.entitlements} entitlement(s) loaded into Redis in ${(r.ms / 1000).toFixed(1)} s`);
    },
    async 'campaign close'(ctx: CtlContext, args: string[]) {
      const code = args[0];
      if (!code || args.length > 1) throw new UsageError('usage: campaign close <code>');
      await withRedis(ctx, (d) => closeCampaign(d, code));
      ctx.out(`campaign ${code} closed: no more withdrawals; advices and reversals are still recorded`);
    },
  };
}

setRosterChangeHandler((ctx, campaign, ids) => withRedis(ctx, (d) => refreshBeneficiaries(d, campaign.code, ids)));
