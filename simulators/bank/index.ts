// The bank simulator's public face, for the CLI, a certification runner and the demo.
import type { Logger } from '../../switch/log.ts';
import { createLogger } from '../../switch/log.ts';
import { AtmGateway, type GatewayOptions } from './gateway.ts';
import { AtmServer } from './atm-server.ts';
import { BankHost, type BankHostOptions } from './host.ts';
import type { CardFile } from './cards.ts';

export { BankHost, BANK_HOST_DEFAULTS, reconnectDelay, type BankHostOptions, type Authorization, type FinancialRequest, type HostStatus } from './host.ts';
export { SwitchConnection, LinkDownError, RequestTimeoutError, SignOnRefusedError, NETWORK_CODE, type ConnectionOptions } from './connection.ts';
export { AtmGateway, GATEWAY_DEFAULTS, type GatewayOptions } from './gateway.ts';
export { AtmServer } from './atm-server.ts';
export { SafQueue, QueueFullError, type SafEntry } from './saf-queue.ts';
export { AdviceForwarder, repeatMti } from './forwarder.ts';
export { CardFile, CardFileError, syntheticCard, type Card } from './cards.ts';
export { StanGenerator } from './stan.ts';
export * from './atm-protocol.ts';
export * from './fields.ts';

export interface BankSimulator {
  host: BankHost;
  gateway: AtmGateway;
  /** Null when no ATM port was asked for. */
  server: AtmServer | null;
  atmPort: number | null;
  /** Stops taking withdrawals, waits up to drain_ms for ATM answers and dispense reports, then up to drain_ms for the host to drain; signs off. */
  stop(drain_ms?: number): Promise<void>;
}

/** A whole bank: host (started), issuer gateway, and optionally the ATM port (listen_port 0: any free port). */
export async function startBankSimulator(
  options: BankHostOptions & { cards?: CardFile | null; listen_port?: number | null; listen_host?: string; gateway?: Partial<GatewayOptions> },
): Promise<BankSimulator> {
  const logger: Logger = options.logger ?? createLogger({ component: 'sim-bank', bank: options.bankCode });
  const host = await BankHost.open({ ...options, logger });
  await host.start();
  const gateway = new AtmGateway(host, { ...options.gateway, cards: options.cards ?? null, logger });
  let server: AtmServer | null = null;
  let atmPort: number | null = null;
  if (options.listen_port !== undefined && options.listen_port !== null) {
    server = new AtmServer(gateway, logger);
    try {
      atmPort = await server.listen(options.listen_port, options.listen_host ?? '127.0.0.1');
    } catch (e) {
      await host.close(0);
      throw new Error(`cannot listen for ATMs on port ${options.listen_port}: ${(e as Error).message}`);
    }
  }
  return {
    host,
    gateway,
    server,
    atmPort,
    async stop(drain_ms = 5_000) {
      await server?.close(drain_ms);
      await host.close(drain_ms);
    },
  };
}
