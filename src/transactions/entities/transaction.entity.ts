import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export type TxKind =
  | 'deploy'
  | 'issue'
  | 'transfer'
  | 'forced-transfer'
  | 'deposit'
  | 'withdraw'
  | 'redeem'
  | 'freeze'
  | 'unfreeze'
  | 'pause'
  | 'unpause'
  | 'recover'
  | 'custody-migration'
  | BatchTxKind
  // Governance transactions (signer kind `governance`): signed only by the governance signer.
  | 'grant-agent'
  | 'revoke-agent'
  | 'governance-pause'
  | 'governance-unpause'
  // The platform's audit anchor (signer kind `audit-anchor`): a 0-value transaction of the anchor key to itself.
  | 'audit-anchor';
/** One lot of a batch (≤ 100 rows) through the contract's batch function. */
type BatchTxKind = 'batch-issue' | 'batch-redeem' | 'batch-forced-transfer' | 'batch-freeze' | 'batch-unfreeze';
/**
 * `pending_approval` rows wait for approvals (the claimer never signs them); `awaiting_signature`
 * rows wait for an external signer. The final states are confirmed, failed, cancelled, rejected, expired.
 */
export type TxStatus =
  'pending_approval' | 'queued' | 'awaiting_signature' | 'submitted' | 'confirmed' | 'failed' | 'cancelled' | 'rejected' | 'expired';
export const FINAL_STATUSES: readonly TxStatus[] = ['confirmed', 'failed', 'cancelled', 'rejected', 'expired'];

export const LEGAL_BASIS_CODES = [
  'court-order',
  'garnishment',
  'inheritance',
  'lost-key',
  'sanctions',
  'error-correction',
  'regulatory',
  'other',
] as const;
export type LegalBasisCode = (typeof LEGAL_BASIS_CODES)[number];
/** Why a coercive operation is done: stored with the row and in its audit event. */
export interface LegalBasis {
  code: LegalBasisCode;
  reference?: string;
  note?: string;
}

/** Who asked (API keys: their owner, who may not approve it; system: the firm it acted for). */
export interface RequestedBy {
  type: 'staff' | 'api-key' | 'admin' | 'system';
  id: string;
  ownerStaffId?: string;
  onBehalfOf?: string;
}

/** One checker's approval of a `pending_approval` row. */
export interface ApprovalGiven {
  by: string;
  at: string;
  comment?: string;
}

/**
 * One token operation or deployment. Acceptance stores the request and the call's
 * arguments (`call_args`); the calldata is built when the row is signed (so a key rotation
 * or a custody change between acceptance and signing is respected), then the worker adds
 * nonce, fees and the signature, and stores the raw signed transaction and its hash BEFORE
 * broadcasting, so a crash can only lead to a re-broadcast of the same bytes.
 */
@Entity('transactions')
// Partial indexes for the pipeline's and the pre-checks' hot queries: a row is in them only
// while it is pending, so they stay small and a status change writes fewer index entries.
@Index('idx_transactions_queue', ['fromAddress', 'createdAt', 'id'], { where: `status = 'queued'` })
@Index('idx_transactions_submitted', ['submittedAt', 'id'], { where: `status = 'submitted'` })
@Index('idx_transactions_pending_debits', ['tokenId', 'debitAddress'], {
  where: `status IN ('queued', 'submitted') AND debit_address IS NOT NULL`,
})
@Index('idx_transactions_confirmed_debits', ['tokenId', 'debitAddress', 'blockNumber'], {
  where: `status = 'confirmed' AND debit_address IS NOT NULL`,
})
@Index('idx_transactions_pending_withdrawals', ['tokenId', 'userId'], { where: `kind = 'withdraw' AND status IN ('queued', 'submitted')` })
@Index('idx_transactions_custody_history', ['tokenId', 'blockNumber'], {
  where: `kind IN ('deposit', 'withdraw') AND status = 'confirmed'`,
})
@Index('idx_transactions_operator_created', ['operatorId', 'createdAt', 'id'])
@Index('idx_transactions_pending_approval', ['operatorId', 'createdAt', 'id'], { where: `status = 'pending_approval'` })
// An expression index on (operator_id, legal_basis->>'code') for the legalBasisCode filter: created by hand in its migration.
@Index('idx_transactions_legal_basis_code', { synchronize: false })
@Index('idx_transactions_token', ['tokenId'])
@Index('idx_transactions_user', ['userId'])
@Index('idx_transactions_created', ['createdAt', 'id'])
@Index('idx_transactions_batch', ['batchId'])
// Pending debits of batch lots (in call_args.debits): only lots, which are few next to single rows.
@Index('idx_transactions_batch_debits', ['tokenId', 'status'], { where: `batch_id IS NOT NULL` })
export class Transaction {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'token_id', type: 'uuid', nullable: true })
  tokenId!: string | null;

  /** Foreign key only (other modules' tables are reached through their owners' services). */
  @ManyToOne('Token', { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'token_id' })
  token?: unknown;

  @Column({ type: 'varchar', length: 32 })
  kind!: TxKind;

  @Column({ type: 'varchar', length: 24 })
  status!: TxStatus;

  /** The firm the row is for (requested by it, or by `system` on its behalf); for admin requests the admin's id. */
  @Column({ name: 'operator_id', type: 'uuid' })
  operatorId!: string;

  @Column({ name: 'requested_by_type', type: 'varchar', length: 16 })
  /** `platform`: kagi for the platform itself (audit anchors), no firm; `operator_id` is then the signer's id. */
  requestedByType!: 'admin' | 'operator' | 'system' | 'platform';

  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId!: string | null;

  /** Foreign key only (other modules' tables are reached through their owners' services). */
  @ManyToOne('User', { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'user_id' })
  user?: unknown;

  @Column({ name: 'signer_kind', type: 'varchar', length: 16 })
  signerKind!: 'operator' | 'issuer' | 'governance' | 'audit-anchor';

  @Column({ name: 'signer_id', type: 'uuid' })
  signerId!: string;

  @Column({ name: 'from_address', type: 'varchar', length: 42 })
  fromAddress!: `0x${string}`;

  @Column({ name: 'to_address', type: 'varchar', length: 42, nullable: true })
  toAddress!: `0x${string}` | null;

  /** The signed call's data: set when signed (rows accepted before calldata-at-signing carry it from acceptance). */
  @Column({ name: 'call_data', type: 'text', nullable: true })
  callData!: `0x${string}` | null;

  /** The operation's resolved arguments (addresses, amounts), from which the call is built at signing. */
  @Column({ name: 'call_args', type: 'jsonb', nullable: true })
  callArgs!: Record<string, unknown> | null;

  /** Pending debit of this operation on `debit_address`, for pre-checks of later requests. */
  @Column({ name: 'debit_address', type: 'varchar', length: 42, nullable: true })
  debitAddress!: string | null;

  @Column({ name: 'debit_amount', type: 'numeric', precision: 78, scale: 0, nullable: true })
  debitAmount!: string | null;

  @Column({ type: 'integer', nullable: true })
  nonce!: number | null;

  @Column({ name: 'tx_hash', type: 'varchar', length: 66, nullable: true })
  txHash!: `0x${string}` | null;

  /** Earlier hashes signed for the same nonce, replaced by a fee bump. */
  @Column({ name: 'replaced_hashes', type: 'varchar', length: 66, array: true, nullable: true })
  replacedHashes!: string[] | null;

  @Column({ name: 'raw_tx', type: 'text', nullable: true })
  rawTx!: `0x${string}` | null;

  @Column({ name: 'block_number', type: 'bigint', nullable: true })
  blockNumber!: string | null;

  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  @Column({ type: 'jsonb', nullable: true })
  error!: { code: string; message: string } | null;

  @Column({ type: 'jsonb' })
  request!: Record<string, unknown>;

  /** Null for rows accepted before it was recorded (then the firm's id stands for the requester). */
  @Column({ name: 'requested_by', type: 'jsonb', nullable: true })
  requestedBy!: RequestedBy | null;

  @Column({ name: 'legal_basis', type: 'jsonb', nullable: true })
  legalBasis!: LegalBasis | null;

  /** Approvals the request needs before it is queued, fixed when it was made (0: none). */
  @Column({ name: 'approvals_required', type: 'smallint', default: 0 })
  approvalsRequired!: number;

  @Column({ name: 'approvals_given', type: 'jsonb', default: () => "'[]'" })
  approvalsGiven!: ApprovalGiven[];

  @Column({ name: 'next_attempt_at', type: 'timestamptz' })
  nextAttemptAt!: Date;

  @Column({ name: 'submitted_at', type: 'timestamptz', nullable: true })
  submittedAt!: Date | null;

  /** The batch this row runs a lot (or, on a v1 token, a row) of. */
  @Column({ name: 'batch_id', type: 'uuid', nullable: true })
  batchId!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
