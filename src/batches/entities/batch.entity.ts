import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export type BatchKind = 'issue' | 'redeem' | 'transfer' | 'forced-transfer' | 'freeze' | 'unfreeze';
export type BatchStatus = 'pending_approval' | 'running' | 'completed' | 'partially_failed' | 'rejected' | 'expired';
export type ItemStatus = 'invalid' | 'pending_approval' | 'queued' | 'confirmed' | 'failed';

/** The contract's legal basis (a row's, stored with the row and on its lot's transaction). */
export type { LegalBasis } from '../../transactions/entities/transaction.entity';
import type { LegalBasis } from '../../transactions/entities/transaction.entity';

/**
 * One bulk request on one token. Its rows (batch_items) and the queued transactions running its
 * lots are written in the same database transaction as this row, so a batch exists whole or not at
 * all, and each lot is one queued transaction that the pipeline signs exactly once.
 */
@Entity('batches')
@Index('idx_batches_operator_created', ['operatorId', 'createdAt', 'id'])
@Index('idx_batches_token', ['tokenId'])
export class Batch {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'operator_id', type: 'uuid' })
  operatorId!: string;

  @Column({ name: 'token_id', type: 'uuid' })
  tokenId!: string;

  /** Foreign key only (other modules' tables are reached through their owners' services). */
  @ManyToOne('Token', { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'token_id' })
  token?: unknown;

  @Column({ type: 'varchar', length: 24 })
  kind!: BatchKind;

  @Column({ type: 'varchar', length: 24 })
  status!: BatchStatus;

  @Column({ type: 'boolean' })
  atomic!: boolean;

  @Column({ type: 'integer' })
  total!: number;

  /** Who asked: {type, id, onBehalfOf?}. */
  @Column({ name: 'requested_by', type: 'jsonb' })
  requestedBy!: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

/** One row of a batch, numbered from 1 in the order given, with its legal basis and its outcome. */
@Entity('batch_items')
@Index('idx_batch_items_transaction', ['transactionId'])
export class BatchItem {
  @PrimaryColumn({ name: 'batch_id', type: 'uuid' })
  batchId!: string;

  @ManyToOne(() => Batch, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'batch_id' })
  batch?: Batch;

  @PrimaryColumn({ type: 'integer' })
  row!: number;

  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId!: string | null;

  @Column({ name: 'to_user_id', type: 'uuid', nullable: true })
  toUserId!: string | null;

  @Column({ type: 'numeric', precision: 78, scale: 0, nullable: true })
  amount!: string | null;

  @Column({ name: 'legal_basis', type: 'jsonb', nullable: true })
  legalBasis!: LegalBasis | null;

  @Column({ type: 'jsonb', nullable: true })
  instruction!: { reference: string; receivedAt: string } | null;

  @Column({ type: 'varchar', length: 24 })
  status!: ItemStatus;

  @Column({ name: 'transaction_id', type: 'uuid', nullable: true })
  transactionId!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  error!: { code: string; field?: string; message: string } | null;
}
