/**
 * What the pipeline's stages share within one instance: the per-signer broadcast queues,
 * what was sent, the signers' mined counts, and how to wake each stage. Nothing here is
 * durable — after a restart the receipt stage rebuilds what it needs from the database.
 */
import { Injectable } from '@nestjs/common';
import { Metrics } from '../../common/metrics';
import { AppConfig } from '../../config/app-config';

/**
 * Which signers this process's pipeline works for: `keys` (firm, issuer and anchor keys: the
 * API), `governance` (the governance process), `all` (the API with the development governance
 * key, GOVERNANCE_SIGNER=local).
 */
export type PipelineScope = 'keys' | 'governance' | 'all';

@Injectable()
export class PipelineState {
  /** Per signer: broadcasts committed but not yet sent, oldest first. */
  readonly broadcasts = new Map<string, Array<Promise<void>>>();
  /**
   * Submitted rows this instance has sent, with the head at which each was last seen unmined.
   * Receipts are asked only for rows sent (or older than SENT_ELSEWHERE_MS: sent by another
   * instance, or before a restart), and once per new block.
   */
  readonly sent = new Map<string, bigint>();
  /** Rows whose nonce the chain gave to another transaction, and since when that was seen. */
  readonly taken = new Map<string, number>();
  /** Rows in this instance's broadcast queues, not sent yet. */
  readonly unsent = new Set<string>();
  /** Per signer: the send in progress (sends of one account never overlap). */
  readonly sending = new Map<string, Promise<void>>();
  /** Per signer: its mined transaction count as last read. */
  readonly mined = new Map<string, number>();
  stopping = false;
  scope: PipelineScope;
  wakeSigning: () => void = () => undefined;
  wakeReceipts: () => void = () => undefined;
  readonly outcomes;

  constructor(metrics: Metrics, config: AppConfig) {
    this.scope = config.governance.ownProcess ? 'keys' : 'all';
    this.outcomes = metrics.counter('kagi_transactions_total', 'Transactions by final status', ['status']);
  }

  count(changed: ReadonlyArray<{ status: string }>): void {
    for (const status of ['confirmed', 'failed'] as const) {
      const n = changed.filter((c) => c.status === status).length;
      if (n) this.outcomes.inc({ status }, n);
    }
  }
}
