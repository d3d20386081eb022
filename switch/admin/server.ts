// The HTTP ops API. Today: health and the state of the partner links. It shows no personal data.
import Fastify, { type FastifyInstance } from 'fastify';
import type { LinkServer } from '../link/server.ts';

export interface AdminDeps {
  link: LinkServer;
  /** Named readiness checks (PostgreSQL, Redis …): each resolves when its store answers. */
  checks: Record<string, () => Promise<unknown>>;
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
  return app;
}
