import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Dev/test only (no GOVERNANCE_ADDRESS): a sealed platform governance key, admin of token contracts. */
@Entity('governance_keys')
export class GovernanceKey {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 42 })
  address!: `0x${string}`;

  @Column({ name: 'encrypted_key', type: 'bytea' })
  encryptedKey!: Buffer;

  @Column({ name: 'encrypted_data_key', type: 'bytea' })
  encryptedDataKey!: Buffer;

  @Column({ name: 'kms_key_id', type: 'varchar', length: 2048 })
  kmsKeyId!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
