/** Shapes shared by the pipeline's stages, the repository and the hooks (no logic here, so no cycle). */
import type { Hex } from 'viem';
import type { TxDtoSource } from '../dto/transaction.response';
import type { Transaction, TxStatus } from '../entities/transaction.entity';

export type Problem = { code: string; message: string };
export type Check = { kind: 'ok'; gas: bigint } | ({ kind: 'failed' } & Problem) | ({ kind: 'retry' } & Problem);
export type Signed = { id: string; nonce: number; raw: Hex };

/** What the signing stage needs of a queued row. */
export interface QueuedRow {
  id: string;
  kind: Transaction['kind'];
  operatorId: string;
  requestedByType: Transaction['requestedByType'];
  signerKind: Transaction['signerKind'];
  signerId: string;
  fromAddress: `0x${string}`;
  toAddress: `0x${string}` | null;
  /** Set only for rows accepted before calldata was built at signing time. */
  callData: Hex | null;
  callArgs: Record<string, unknown> | null;
  tokenId: string | null;
  userId: string | null;
  request: Record<string, unknown>;
  due: boolean;
}

export interface SubmittedRow {
  id: string;
  nonce: number;
  from_address: `0x${string}`;
  tx_hash: Hex;
  raw_tx: Hex;
  submitted_at: Date;
  replaced_hashes: Hex[] | null;
  signer_kind: Transaction['signerKind'];
  signer_id: string;
  kind: Transaction['kind'];
  operator_id: string;
  requested_by_type: Transaction['requestedByType'];
}

/**
 * A row whose status just changed, as transition hooks and finality handlers see it (status =
 * the new one): the whole row as its answer is built from it (TRANSITION_COLUMNS).
 */
export interface Transition extends TxDtoSource {
  id: string;
  kind: Transaction['kind'];
  status: TxStatus;
  tokenId: string | null;
  userId: string | null;
  operatorId: string;
  requestedByType: Transaction['requestedByType'];
  request: Record<string, unknown>;
  callArgs: Record<string, unknown> | null;
  /** For a confirmed deployment: the contract's address. */
  contractAddress?: `0x${string}`;
}

export const CHAIN_DOWN: Problem = { code: 'CHAIN_UNAVAILABLE', message: 'the chain node could not be reached' };

/** The tenant of a row for audit: the firm that requested it (or on whose behalf `system` did), none for admin and platform requests. */
export const tenantOf = (r: { requestedByType: string; operatorId: string }): string | null =>
  r.requestedByType === 'admin' || r.requestedByType === 'platform' ? null : r.operatorId;
