import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

/** A security token: its contract, and whose key signs for it (operator or issuer). */
@Entity('tokens')
@Index('idx_tokens_operator_created', ['operatorId', 'createdAt', 'id'])
@Index('idx_tokens_issuer', ['issuerId'])
@Index('idx_tokens_created', ['createdAt', 'id'])
export class Token {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'operator_id', type: 'uuid' })
  operatorId!: string;

  /** Foreign key only (other modules' tables are reached through their owners' services). */
  @ManyToOne('Operator', { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'operator_id' })
  operator?: unknown;

  @Column({ name: 'issuer_id', type: 'uuid', nullable: true })
  issuerId!: string | null;

  /** Foreign key only (other modules' tables are reached through their owners' services). */
  @ManyToOne('Issuer', { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'issuer_id' })
  issuer?: unknown;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ type: 'varchar', length: 16 })
  symbol!: string;

  @Column({ type: 'smallint' })
  decimals!: number;

  @Column({ name: 'signer_kind', type: 'varchar', length: 16 })
  signerKind!: 'operator' | 'issuer';

  @Column({ name: 'signer_id', type: 'uuid' })
  signerId!: string;

  @Column({ name: 'signer_address', type: 'varchar', length: 42 })
  signerAddress!: `0x${string}`;

  @Column({ type: 'varchar', length: 42, nullable: true })
  address!: `0x${string}` | null;

  @Column({ type: 'varchar', length: 16 })
  status!: 'deploying' | 'active' | 'failed';

  @Column({ name: 'deploy_transaction_id', type: 'uuid' })
  deployTransactionId!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
