import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { ChainHead } from '../audit-hash';

/**
 * An on-chain anchor of every chain's head: `digest` (SHA-256 over the sorted
 * `chain:seq:hash` lines) is the data of a 0-value transaction of the anchor key to itself.
 * Append-only by a trigger.
 */
@Entity('audit_anchors')
@Index('idx_audit_anchors_at', ['at', 'id'])
export class AuditAnchor {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'jsonb' })
  heads!: ChainHead[];

  @Column({ type: 'char', length: 64 })
  digest!: string;

  @Column({ name: 'tx_hash', type: 'varchar', length: 66, unique: true })
  txHash!: string;

  @Column({ name: 'block_number', type: 'bigint' })
  blockNumber!: string;

  /** The anchor key's address: the transaction's sender and recipient. */
  @Column({ name: 'from_address', type: 'varchar', length: 42 })
  fromAddress!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  at!: Date;
}
