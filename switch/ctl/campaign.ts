// Ops commands for preparing a campaign: `campaign create`, `campaign list`, `roster import`.
// (`campaign open` / `close` belong to the ledger.) switch/ctl.ts registers `campaignCommands()`; this module reads
// ctl.ts's exports only when a command runs, because ctl.ts imports it (an import cycle).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { UsageError, parseArgs, type CtlContext } from '../ctl.ts';
import { loadConfig } from '../config.ts';
import { createCampaign, formatTwd, listCampaigns, parseWholeTwd, MAX_AMOUNT_TWD, type Campaign } from '../campaigns.ts';
import { ChangeHandlerError, importRoster, type ImportProgress, type ImportSummary } from '../roster/import.ts';

/** Rejected rows printed after an import; the rest are counted in one more line. */
export const MAX_REJECTIONS_PRINTED = 1_000;
const PROGRESS_INTERVAL_MS = 200;

export type RosterChangeHandler = (ctx: CtlContext, campaign: Campaign, beneficiaryIds: number[]) => Promise<void>;
// `var`, not `let`: the ledger's ctl module may set it while this module is still waiting to run (the import cycle
// through ctl.ts), and a `var` exists from the start where a `let` would throw.
// eslint-disable-next-line no-var
var rosterChangeHandler: RosterChangeHandler | null | undefined;

/**
 * What `roster import` must do, after the import commits, with the ids of the beneficiaries it inserted or changed
 * (called in batches). The ledger registers its Redis refresh here, so an import into an open campaign takes effect
 * at once on every switch instance.
 */
export function setRosterChangeHandler(h: RosterChangeHandler | null): void {
  rosterChangeHandler = h;
}

export function formatSummary(s: ImportSummary, maxPrinted = MAX_REJECTIONS_PRINTED): string[] {
  const lines = [
    `accepted ${s.accepted} (new ${s.new}, updated ${s.updated}, unchanged ${s.unchanged}), rejected ${s.rejected}`,
  ];
  const shown = s.rejections.slice(0, maxPrinted);
  for (const r of shown) lines.push(`line ${r.line}: ${r.reason}`);
  if (s.rejected > shown.length) lines.push(`… and ${s.rejected - shown.length} more rejected rows`);
  return lines;
}

function progressBar(totalBytes: number) {
  let last = 0;
  return {
    update(p: ImportProgress) {
      const now = Date.now();
      if (p.phase === 'reading' && now - last < PROGRESS_INTERVAL_MS) return;
      last = now;
      const frac = totalBytes > 0 ? Math.min(1, p.bytes / totalBytes) : 0;
      const width = 30;
      const done = Math.round(frac * width);
      const text = p.phase === 'reading'
        ? `[${'#'.repeat(done)}${'-'.repeat(width - done)}] ${(frac * 100).toFixed(0).padStart(3)}% ${p.rows} rows`
        : `${p.phase} ${p.rows} rows…`;
      process.stderr.write(`\r\x1b[2K${text}`);
    },
    end() {
      process.stderr.write('\r\x1b[2K');
    },
  };
}

/**
 * The commands, for switch/ctl.ts to register. A function declaration (hoisted), not a const: whichever module of the
 * ctl.ts <-> ctl/campaign.ts cycle is imported first, ctl.ts can call it while this module has not run yet.
 */
export function campaignCommands() {
  return {
    async 'campaign create'(ctx: CtlContext, args: string[]): Promise<void> {
      const { pos, opts } = parseArgs(args, ['amount', 'name']);
      const [code, extra] = pos;
      if (!code || extra !== undefined) throw new UsageError('usage: campaign create <code> [--amount <TWD>] [--name <name>]');
      let amountTwd: number | undefined;
      if (opts.amount !== undefined) {
        const a = parseWholeTwd(opts.amount);
        if (a === null) throw new UsageError(`--amount must be a whole number of TWD from 1 to ${MAX_AMOUNT_TWD}, got "${opts.amount.slice(0, 20)}"`);
        amountTwd = a;
      }
      const c = await createCampaign(ctx.db, { code, name: opts.name, amountTwd });
      ctx.out(`campaign ${c.code} created (${c.state}, ${formatTwd(c.amountMinor)} per person)`);
    },

    async 'campaign list'(ctx: CtlContext, args: string[]): Promise<void> {
      if (args.length) throw new UsageError('usage: campaign list');
      const all = await listCampaigns(ctx.db);
      if (all.length === 0) ctx.out('no campaigns');
      for (const c of all) {
        ctx.out(`${c.code}\t${c.state}\t${formatTwd(c.amountMinor)}\t${c.beneficiaries} beneficiaries\t${c.name}`);
      }
    },

    async 'roster import'(ctx: CtlContext, args: string[]): Promise<void> {
      const { pos } = parseArgs(args, []);
      const [code, file, extra] = pos;
      if (!code || !file || extra !== undefined) throw new UsageError('usage: roster import <campaign> <file.csv>');
      let size: number;
      try {
        const st = await stat(file);
        if (!st.isFile()) throw new Error('not a file');
        size = st.size;
      } catch (e) {
        throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const config = loadConfig();
      if (config.identityKeyIsDefault) ctx.err('warning: IDENTITY_KEY is not set: identifiers are hashed under the development key');
      const bar = ctx.isTTY ? progressBar(size) : null;
      const handler = rosterChangeHandler;
      let summary: ImportSummary;
      try {
        summary = await importRoster(ctx.db, code, createReadStream(file, { highWaterMark: 1 << 20 }), {
          identityKey: config.identityKey,
          onProgress: bar ? (p) => bar.update(p) : undefined,
          onChanged: handler ? (campaign, ids) => handler(ctx, campaign, ids) : undefined,
        });
      } catch (e) {
        // Committed but not passed on: still say what was loaded, then fail with the one-line reason.
        if (e instanceof ChangeHandlerError) for (const line of formatSummary(e.summary)) ctx.out(line);
        throw e;
      } finally {
        bar?.end();
      }
      for (const line of formatSummary(summary)) ctx.out(line);
    },
  };
}
