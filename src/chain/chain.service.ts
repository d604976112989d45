/**
 * The chain port: viem clients over CHAIN_RPC_URL. CHAIN_ID, when set, is checked
 * against the node at start and in readiness, so kagi never signs for the wrong chain.
 */
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { createPublicClient, defineChain, http, type Chain, type PublicClient } from 'viem';
import { AppError } from '../common/app-error';
import { AppConfig } from '../config/app-config';
import { Metrics } from '../common/metrics';

export class ChainUnavailableError extends AppError {
  constructor(detail = 'The chain node could not be reached; try again later') {
    super('CHAIN_UNAVAILABLE', detail);
  }
}

@Injectable()
export class ChainService implements OnModuleInit {
  private readonly logger = new Logger('Chain');
  /**
   * Reads, estimates and receipts. Calls made in the same tick travel as one JSON-RPC batch:
   * under load that is one HTTP round trip instead of dozens (a node answers a batched
   * eth_call ~10x faster than the same calls one by one).
   */
  readonly client: PublicClient;
  /**
   * Broadcasts and dev funding, never batched: a node mining on arrival (Anvil automine)
   * mines only part of a batch of one account's transactions and leaves the rest pending.
   */
  readonly sender: PublicClient;
  private chainId: number | undefined;

  constructor(
    private readonly config: AppConfig,
    metrics: Metrics,
  ) {
    const requests = metrics.counter('kagi_chain_http_requests_total', 'HTTP requests to the chain node, by client', ['client']);
    const calls = metrics.counter('kagi_chain_rpc_calls_total', 'JSON-RPC calls to the chain node, by method', ['method']);
    /** Counts what goes to the node (one HTTP request may carry a batch of calls). */
    const counted =
      (client: string): typeof fetch =>
      (input, init) => {
        requests.inc({ client });
        if (typeof init?.body === 'string')
          for (const m of init.body.matchAll(/"method":"([A-Za-z0-9_]{1,64})"/g)) calls.inc({ method: m[1] });
        return fetch(input, init);
      };
    // cacheTime 0: confirmations are counted against the real head, never a cached block number.
    this.client = createPublicClient({
      transport: http(config.chain.rpcUrl, {
        timeout: 10_000,
        retryCount: 1,
        batch: { batchSize: 100, wait: 0 },
        fetchFn: counted('batched'),
      }),
      cacheTime: 0,
      pollingInterval: 500,
    });
    this.sender = createPublicClient({
      transport: http(config.chain.rpcUrl, { timeout: 10_000, retryCount: 1, fetchFn: counted('sender') }),
      cacheTime: 0,
      pollingInterval: 500,
    });
  }

  async onModuleInit(): Promise<void> {
    if (this.config.offline) return;
    // Not fatal at start: readiness reports an unreachable chain, and start-up must not
    // depend on the node being up. A wrong chain id, though, is fatal.
    try {
      await this.verifyChainId();
    } catch (e) {
      if (e instanceof WrongChainError) throw e;
      this.logger.warn(`chain not reachable at start (${this.config.chain.rpcUrl}); readiness will report it`);
    }
  }

  async verifyChainId(): Promise<number> {
    const id = await this.client.getChainId();
    const expected = this.config.chain.chainId;
    if (expected !== undefined && id !== expected) throw new WrongChainError(expected, id);
    if (this.chainId === undefined) this.logger.log(`chain id ${id} at ${this.config.chain.rpcUrl}`);
    this.chainId = id;
    return id;
  }

  /** The viem chain object for signing (EIP-155 chain id from the node, checked). */
  async chain(): Promise<Chain> {
    const id =
      this.chainId ??
      (await this.verifyChainId().catch((e: unknown) => {
        throw e instanceof WrongChainError ? e : new ChainUnavailableError();
      }));
    return defineChain({
      id,
      name: `chain-${id}`,
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [this.config.chain.rpcUrl] } },
    });
  }
}

export class WrongChainError extends Error {
  constructor(expected: number, actual: number) {
    super(`CHAIN_ID is ${expected} but the node at CHAIN_RPC_URL reports ${actual}`);
    this.name = 'WrongChainError';
  }
}
