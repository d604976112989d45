import { Column, CreateDateColumn, Entity, Index, JoinColumn, OneToOne, PrimaryColumn } from 'typeorm';
import { Principal } from '../../auth/entities/principal.entity';

/**
 * A financial operator. Its signing key is stored only as envelope ciphertexts
 * (encrypted_key, encrypted_data_key) with the KMS key that wrapped the data key.
 */
@Entity('operators')
@Index('idx_operators_created', ['createdAt', 'id'])
export class Operator {
  @PrimaryColumn('uuid')
  id!: string;

  @OneToOne(() => Principal, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'id' })
  principal!: Principal;

  @Column({ type: 'varchar', length: 254 })
  email!: string;

  @Column({ type: 'varchar', length: 16, default: 'active' })
  status!: 'active' | 'suspended';

  @Column({ name: 'signer_address', type: 'varchar', length: 42 })
  signerAddress!: `0x${string}`;

  @Column({ name: 'custody_address', type: 'varchar', length: 42 })
  custodyAddress!: `0x${string}`;

  @Column({ name: 'encrypted_key', type: 'bytea' })
  encryptedKey!: Buffer;

  @Column({ name: 'encrypted_data_key', type: 'bytea' })
  encryptedDataKey!: Buffer;

  @Column({ name: 'kms_key_id', type: 'varchar', length: 2048 })
  kmsKeyId!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
