import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/**
 * Everyone who logs in: platform admins and operators. loginId is unique across all
 * principals, case-insensitively. `tokenVersion` revokes every token issued before a
 * password change or suspension; `exemptJti` lets the one token that changed the
 * password survive that change.
 */
@Entity('principals')
// The unique index is on lower(login_id), created by a hand-written migration; TypeORM leaves it alone.
@Index('uq_principals_login_id', { synchronize: false })
export class Principal {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 16 })
  type!: 'admin' | 'operator';

  @Column({ name: 'login_id', type: 'varchar', length: 64 })
  loginId!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ name: 'password_hash', type: 'varchar', length: 255 })
  passwordHash!: string;

  @Column({ name: 'token_version', type: 'integer', default: 1 })
  tokenVersion!: number;

  @Column({ name: 'exempt_jti', type: 'varchar', length: 64, nullable: true })
  exemptJti!: string | null;

  @Column({ name: 'must_change_password', type: 'boolean', default: false })
  mustChangePassword!: boolean;

  /** SHA-256 of a one-time activation code (never the code). */
  @Column({ name: 'activation_code_hash', type: 'bytea', nullable: true, select: false })
  activationCodeHash!: Buffer | null;

  @Column({ name: 'activation_expires_at', type: 'timestamptz', nullable: true })
  activationExpiresAt!: Date | null;

  @Column({ name: 'totp_enabled', type: 'boolean', default: false })
  totpEnabled!: boolean;

  /** The TOTP secret, envelope-sealed (purpose totp-secret); the pending one until confirmed. */
  @Column({ name: 'totp_secret', type: 'bytea', nullable: true, select: false })
  totpSecret!: Buffer | null;

  @Column({ name: 'totp_data_key', type: 'bytea', nullable: true, select: false })
  totpDataKey!: Buffer | null;

  @Column({ name: 'totp_kms_key_id', type: 'varchar', length: 2048, nullable: true, select: false })
  totpKmsKeyId!: string | null;

  @Column({ name: 'totp_pending_secret', type: 'bytea', nullable: true, select: false })
  totpPendingSecret!: Buffer | null;

  @Column({ name: 'totp_pending_data_key', type: 'bytea', nullable: true, select: false })
  totpPendingDataKey!: Buffer | null;

  @Column({ name: 'totp_pending_kms_key_id', type: 'varchar', length: 2048, nullable: true, select: false })
  totpPendingKmsKeyId!: string | null;

  /** The last 30-s step accepted: each step is accepted once. */
  @Column({ name: 'totp_last_step', type: 'bigint', nullable: true })
  totpLastStep!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
