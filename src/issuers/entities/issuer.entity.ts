import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/** An issuer (発行体): a key holder that never logs in; its key is stored only envelope-encrypted. */
@Entity('issuers')
@Index('idx_issuers_created', ['createdAt', 'id'])
export class Issuer {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

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
