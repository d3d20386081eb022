// The HTTP ops API: health, the partner links and how fast they are answered, campaigns and settlement figures.
// It shows no personal data.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import type { LinkServer } from '../link/server.ts';
import { getCampaign, listCampaigns } from '../campaigns.ts';
import { campaignFigures } from './totals.ts';
import { BUCKET_BOUNDS_MS, percentileMs, type LatencySnapshot } from '../link/latency.ts';
import type { RosterCopiesStats } from '../ledger/roster-copies.ts';

export interface AdminDeps {
  link: LinkServer;
  db: Knex;
  /** Named readiness checks (PostgreSQL, Redis …): each resolves when its store answers. */
  checks: Record<string, () => Promise<unknown>>;
  /** The ledger's in-memory roster copies (counts and sizes only). */
  rosterCopies?: () => RosterCopiesStats;
  /** How long withdrawals waited on each store (roster read, Redis reservation, group commit). */
  stages?: () => Record<string, LatencySnapshot>;
}

function figures(s: LatencySnapshot) {
  return { count: s.count, p50_ms: percentileMs(s, 50), p90_ms: percentileMs(s, 90), p99_ms: percentileMs(s, 99), max_ms: s.maxMs, counts: s.counts };
}

export function createAdmin(deps: AdminDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, connectionTimeout: 10_000 });
  app.get('/healthz', async (_req, reply) => {
    const results: Record<string, string> = {};
    await Promise.all(
      Object.entries(deps.checks).map(async ([name, check]) => {
        results[name] = await check().then(
          () => 'ok',
          (e: Error) => `down: ${e.message}`,
        );
      }),
    );
    const ok = Object.values(results).every((r) => r === 'ok');
    return reply.code(ok ? 200 : 503).send({ ok, ...results });
  });
  app.get('/v1/links', async () =>
    [...deps.link.sessions].map((s) => ({
      connection: s.id,
      bank: s.bank?.code ?? null,
      in_flight: s.inFlightCount,
      last_received_at: new Date(s.lastReceivedAt).toISOString(),
      ...s.stats,
    })),
  );
  // How long the switch takes to answer, per MTI, since it started: from taking a request up to its answer written;
  // and, for withdrawals, how long of it each store took (roster read, Redis reservation, group commit).
  // The bucket counts let a caller subtract two readings to get any period's figures (the benchmark does).
  app.get('/v1/latency', async () => ({
    bucket_bounds_ms: BUCKET_BOUNDS_MS,
    by_mti: Object.fromEntries(Object.entries(deps.link.latencies.snapshot()).map(([mti, s]) => [mti, figures(s)])),
    withdrawal_stages: Object.fromEntries(Object.entries(deps.stages?.() ?? {}).map(([stage, s]) => [stage, figures(s)])),
  }));
  // Withdrawals decided from this instance's in-memory copy of the roster, from a PostgreSQL read, and decided again
  // from PostgreSQL because the copy was behind; and the copies held. Counts and sizes only.
  app.get('/v1/roster-copies', async (_req, reply) => {
    if (!deps.rosterCopies) return reply.code(404).send({ error: 'this instance keeps no roster copies' });
    const s = deps.rosterCopies();
    return {
      from_copy: s.fromCopy,
      from_postgres: s.fromPostgres,
      reread: s.reread,
      copies: s.copies.map((c) => ({ campaign: c.campaign, roster_version: c.version, cards: c.cards, bytes: c.bytes })),
    };
  });
  app.get('/v1/campaigns', async () => listCampaigns(deps.db));
  // Settlement figures per bank: counts and amounts only, never a person.
  app.get<{ Params: { code: string } }>('/v1/campaigns/:code/settlement', async (req, reply) => {
    const campaign = await getCampaign(deps.db, req.params.code);
    if (!campaign) return reply.code(404).send({ error: `no campaign ${req.params.code}` });
    return campaignFigures(deps.db, campaign.code);
  });
  return app;
}
