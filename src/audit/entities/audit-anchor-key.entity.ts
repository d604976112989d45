import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The platform's anchor key (kind `audit-anchor`): envelope ciphertexts only, like every
 * signing key. It holds no role on any token; it only sends 0-value transactions to itself.
 */
@Entity('audit_anchor_keys')
export class AuditAnchorKey {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'signer_address', type: 'varchar', length: 42 })
  signerAddress!: `0x${string}`;

  @Column({ name: 'encrypted_key', type: 'bytea' })
  encryptedKey!: Buffer;

  @Column({ name: 'encrypted_data_key', type: 'bytea' })
  encryptedDataKey!: Buffer;

  @Column({ name: 'kms_key_id', type: 'varchar', length: 2048 })
  kmsKeyId!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
