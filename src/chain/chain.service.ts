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
   * Reads that answer a request: pre-checks, GET reads, readiness, dev funding. Calls made in
   * the same tick travel as one JSON-RPC batch: under load that is one HTTP round trip instead
   * of dozens (a node answers a batched eth_call ~10x faster than the same calls one by one).
   * Deadline CHAIN_READ_TIMEOUT per attempt, one retry: a node that stopped answering (hung,
   * SIGSTOPped: the kernel still accepts the connection, so nothing is refused) is 503
   * CHAIN_UNAVAILABLE within 2 × that + 150 ms (≈ 2.2 s by default, leaving the rest of the contract's
   * 3.5 s to the request's own database reads), not after the OS gives up.
   */
  readonly client: PublicClient;
  /**
   * The pipeline's reads (estimates, nonces, receipts, re-broadcast checks): batched like
   * `client`, with the longer CHAIN_PIPELINE_TIMEOUT. An error there means "again later" (the
   * row stays queued with CHAIN_UNAVAILABLE, or the round is retried), so the deadline only
   * has to end a hang, and must not turn a node that is merely slow under load into an outage.
   */
  readonly pipeline: PublicClient;
  /**
   * Broadcasts and dev funding, never batched: a node mining on arrival (Anvil automine)
   * mines only part of a batch of one account's transactions and leaves the rest pending.
   * CHAIN_PIPELINE_TIMEOUT too: a send that timed out may still land (the node reads it when
   * it runs again), which is harmless: the raw transaction is committed before it is sent, and
   * a second send of it is "already known" or "nonce too low".
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
    const { rpcUrl, readTimeoutMs, pipelineTimeoutMs } = config.chain;
    const batched = (name: string, timeout: number): PublicClient =>
      // cacheTime 0: confirmations are counted against the real head, never a cached block number.
      createPublicClient({
        transport: http(rpcUrl, { timeout, retryCount: 1, batch: { batchSize: 100, wait: 0 }, fetchFn: counted(name) }),
        cacheTime: 0,
        pollingInterval: 500,
      });
    this.client = batched('batched', readTimeoutMs);
    this.pipeline = batched('pipeline', pipelineTimeoutMs);
    this.sender = createPublicClient({
      transport: http(rpcUrl, { timeout: pipelineTimeoutMs, retryCount: 1, fetchFn: counted('sender') }),
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

class WrongChainError extends Error {
  constructor(expected: number, actual: number) {
    super(`CHAIN_ID is ${expected} but the node at CHAIN_RPC_URL reports ${actual}`);
    this.name = 'WrongChainError';
  }
}
