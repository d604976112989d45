import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One failed login for a (lower-cased) loginId; kept in PostgreSQL so lockout holds across restarts and instances. */
@Entity('login_failures')
@Index('idx_login_failures_login_at', ['loginKey', 'at'])
export class LoginFailure {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'login_key', type: 'varchar', length: 64 })
  loginKey!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  at!: Date;
}
