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

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
