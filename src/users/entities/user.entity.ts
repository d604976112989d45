import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Operator } from '../../operators/entities/operator.entity';

/**
 * An investor registered by an operator. Only the wallet ADDRESS is ever stored: the
 * private key leaves the secure room once, on paper, and is never persisted.
 */
@Entity('users')
@Index('uq_users_operator_external_ref', ['operatorId', 'externalRef'], { unique: true })
@Index('idx_users_operator_created', ['operatorId', 'createdAt', 'id'])
@Index('idx_users_created', ['createdAt', 'id'])
@Index('idx_users_wallet_address', ['walletAddress'])
export class User {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'operator_id', type: 'uuid' })
  operatorId!: string;

  @ManyToOne(() => Operator, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'operator_id' })
  operator?: Operator;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ type: 'varchar', length: 254 })
  email!: string;

  @Column({ name: 'external_ref', type: 'varchar', length: 64, nullable: true })
  externalRef!: string | null;

  /** フリガナ, for the holder register (株主名簿 / 社債原簿). */
  @Column({ name: 'name_kana', type: 'varchar', length: 200, nullable: true })
  nameKana!: string | null;

  @Column({ name: 'postal_address', type: 'varchar', length: 500, nullable: true })
  postalAddress!: string | null;

  /** Decides withholding on distributions: residents' 住民税 applies to individuals only. */
  @Column({ name: 'tax_class', type: 'varchar', length: 16, default: 'individual' })
  taxClass!: 'individual' | 'corporate';

  @Column({ name: 'wallet_address', type: 'varchar', length: 42, nullable: true })
  walletAddress!: `0x${string}` | null;

  @Column({ name: 'previous_wallet_addresses', type: 'varchar', length: 42, array: true })
  previousWalletAddresses!: string[];

  @Column({ name: 'wallet_issued_at', type: 'timestamptz', nullable: true })
  walletIssuedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
