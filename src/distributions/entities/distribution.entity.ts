import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

export interface Totals {
  units: string;
  gross: string;
  incomeTax: string;
  residentTax: string;
  withholding: string;
  net: string;
  holders: number;
}

export interface Entitlement {
  userId: string | null;
  externalRef: string | null;
  name: string | null;
  taxClass: 'individual' | 'corporate' | null;
  address: string;
  units: string;
  gross: string;
  incomeTax: string;
  residentTax: string;
  withholding: string;
  net: string;
}

/**
 * A dividend or coupon computed once from the holder register at its record block. The
 * entitlements are stored as computed (names and tax classes as they were then), so the payment
 * list does not change when a user's record does.
 */
@Entity('distributions')
@Index('idx_distributions_operator_created', ['operatorId', 'createdAt', 'id'])
@Index('idx_distributions_token', ['tokenId'])
export class Distribution {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'operator_id', type: 'uuid' })
  operatorId!: string;

  @Column({ name: 'token_id', type: 'uuid' })
  tokenId!: string;

  /** Foreign key only. */
  @ManyToOne('Token', { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'token_id' })
  token?: unknown;

  @Column({ type: 'varchar', length: 16 })
  kind!: 'dividend' | 'coupon';

  @Column({ name: 'record_block', type: 'bigint' })
  recordBlock!: string;

  @Column({ name: 'record_date', type: 'date', nullable: true })
  recordDate!: string | null;

  @Column({ name: 'amount_per_token', type: 'varchar', length: 40 })
  amountPerToken!: string;

  @Column({ name: 'payment_date', type: 'date' })
  paymentDate!: string;

  @Column({ type: 'jsonb' })
  totals!: Totals;

  @Column({ type: 'jsonb' })
  entitlements!: Entitlement[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
