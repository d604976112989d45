import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One request touching several tokens (¶0057): its transactions were validated together and
 * queued in the same database transaction as this row, each for its own token's signer.
 */
@Entity('orders')
@Index('idx_orders_operator_created', ['operatorId', 'createdAt', 'id'])
export class Order {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'operator_id', type: 'uuid' })
  operatorId!: string;

  @Column({ name: 'transaction_ids', type: 'uuid', array: true })
  transactionIds!: string[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
