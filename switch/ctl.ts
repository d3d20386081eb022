// The operations CLI (operations.md). Every command exits non-zero with a one-line reason when it fails.
import { loadConfig } from './config.ts';
import { createDb, ensureDatabase, migrate } from './db.ts';
import { addBank, listBanks, parseMacKey, removeBank } from './banks.ts';
import type { Knex } from 'knex';
import { campaignCommands } from './ctl/campaign.ts';
import { ledgerCommands } from './ctl/ledger.ts';

export class UsageError extends Error {}

export interface CtlContext {
  db: Knex;
  out: (line: string) => void;
  err: (line: string) => void;
  isTTY: boolean;
}

type Command = (ctx: CtlContext, args: string[]) => Promise<void>;

/** Splits `--name value` options from positional arguments. */
export function parseArgs(args: string[], known: string[]): { pos: string[]; opts: Record<string, string> } {
  const pos: string[] = [];
  const opts: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) {
      const name = a.slice(2);
      if (!known.includes(name)) throw new UsageError(`unknown option ${a}`);
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      opts[name] = v;
    } else pos.push(a);
  }
  return { pos, opts };
}

const commands: Record<string, Command> = {
  async migrate(ctx) {
    const applied = await migrate(ctx.db);
    ctx.out(applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'database is up to date');
  },
  async 'bank add'(ctx, args) {
    const { pos, opts } = parseArgs(args, ['mac-key']);
    const [code, ...nameParts] = pos;
    if (!code || nameParts.length === 0) throw new UsageError('usage: bank add <code> <name> [--mac-key <hex>]');
    const key = opts['mac-key'] ? parseMacKey(opts['mac-key']) : null;
    await addBank(ctx.db, code, nameParts.join(' '), key);
    ctx.out(`bank ${code} registered${key ? ' (with MAC key)' : ''}`);
  },
  async 'bank list'(ctx) {
    const banks = await listBanks(ctx.db);
    if (banks.length === 0) ctx.out('no banks registered');
    for (const b of banks) ctx.out(`${b.code}\t${b.name}\t${b.active ? 'active' : 'inactive'}\t${b.macKey ? 'MAC' : 'no MAC'}`);
  },
  async 'bank remove'(ctx, args) {
    const code = args[0];
    if (!code) throw new UsageError('usage: bank remove <code>');
    if (!(await removeBank(ctx.db, code))) throw new UsageError(`no bank ${code}`);
    ctx.out(`bank ${code} removed (inactive; its history is kept)`);
  },
};

/** Registers more commands (campaign, roster …) from their own modules. */
export function registerCommands(more: Record<string, Command>): void {
  Object.assign(commands, more);
}
registerCommands(campaignCommands());
registerCommands(ledgerCommands());

export async function runCtl(argv: string[], ctx: CtlContext): Promise<void> {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const cmd = commands[name];
    if (cmd && argv.length >= words) return cmd(ctx, argv.slice(words));
  }
  throw new UsageError(`unknown command "${argv.join(' ')}"; commands: ${Object.keys(commands).join(', ')}`);
}

async function main(): Promise<number> {
  const config = loadConfig();
  const argv = process.argv.slice(2);
  let db: Knex | undefined;
  try {
    if (argv[0] === 'migrate') await ensureDatabase(config.databaseUrl);
    db = createDb(config.databaseUrl, { max: 4 });
    await runCtl(argv, {
      db,
      out: (l) => process.stdout.write(l + '\n'),
      err: (l) => process.stderr.write(l + '\n'),
      isTTY: Boolean(process.stderr.isTTY),
    });
    return 0;
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message.split('\n')[0]}\n`);
    return 1;
  } finally {
    await db?.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(await main());
