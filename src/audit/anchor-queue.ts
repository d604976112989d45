/**
 * The port through which the anchorer sends an anchor: the transaction queue, like every
 * other transaction (kind `audit-anchor`). `audit` imports no feature, so `transactions`
 * implements it (AuditAnchorQueue) and registers it with the anchorer at start; the
 * secure-room CLI, which runs no pipeline, has none and anchors nothing.
 */
import type { EntityManager } from 'typeorm';
import type { ChainHead } from './audit-hash';

/** The transaction kind, and the signer kind, of an anchor (the anchor key's owner kind). */
export const ANCHOR_KIND = 'audit-anchor';

export interface AnchorRequest {
  /** The transaction's id. */
  id: string;
  /** The anchor key: the signer, and the transaction's recipient. */
  key: { id: string; address: `0x${string}` };
  /** The transaction's data: SHA-256 over the sorted `chain:seq:hash` lines of `heads`. */
  digest: string;
  heads: ChainHead[];
}

export type AnchorOutcome =
  | { state: 'pending' }
  | { state: 'confirmed'; txHash: `0x${string}`; blockNumber: string }
  /** Failed, cancelled or gone: nothing was anchored. */
  | { state: 'ended'; reason: string };

export interface AnchorQueue {
  /** Queues the anchor transaction in `em`'s database transaction (signed once it commits). */
  enqueue(em: EntityManager, r: AnchorRequest): Promise<void>;
  /** Starts signing now rather than at the next poll (after the enqueue committed). */
  wake(): void;
  outcome(id: string): Promise<AnchorOutcome>;
}
