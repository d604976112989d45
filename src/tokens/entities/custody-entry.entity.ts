import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

/**
 * The custody ledger: how much of a token each investor holds in an operator's custody
 * address. Changed only by confirmed deposits and withdrawals, in the same database
 * transaction that marks them confirmed; its sum per custody address is reconciled
 * against the chain.
 */
@Entity('custody_entries')
@Index('idx_custody_operator', ['tokenId', 'operatorId'])
export class CustodyEntry {
  @PrimaryColumn({ name: 'token_id', type: 'uuid' })
  tokenId!: string;

  /** Foreign key only (other modules' tables are reached through their owners' services). */
  @ManyToOne('Token', { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'token_id' })
  token?: unknown;

  @PrimaryColumn({ name: 'operator_id', type: 'uuid' })
  operatorId!: string;

  /** Foreign key only (other modules' tables are reached through their owners' services). */
  @ManyToOne('Operator', { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'operator_id' })
  operator?: unknown;

  @PrimaryColumn({ name: 'user_id', type: 'uuid' })
  userId!: string;

  /** Foreign key only (other modules' tables are reached through their owners' services). */
  @ManyToOne('User', { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'user_id' })
  user?: unknown;

  @Column({ type: 'numeric', precision: 78, scale: 0 })
  amount!: string;
}
