import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Mail waiting to go out, written in the same transaction as what it reports. A worker
 * claims rows with FOR UPDATE SKIP LOCKED, so several instances never send one twice.
 */
@Entity('mail_outbox')
@Index('idx_mail_outbox_due', ['sentAt', 'nextAttemptAt'])
export class MailOutbox {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'notification_id', type: 'uuid', nullable: true })
  notificationId!: string | null;

  @Column({ type: 'text' })
  recipients!: string;

  @Column({ type: 'varchar', length: 300 })
  subject!: string;

  @Column({ type: 'text' })
  body!: string;

  /**
   * A secret the body carries (an activation code), sealed with the envelope under this row's
   * id; the body holds `{{secret}}` in its place. Opened only to send, and cleared once sent.
   */
  @Column({ name: 'secret_encrypted', type: 'bytea', nullable: true })
  secretEncrypted!: Buffer | null;

  @Column({ name: 'secret_data_key', type: 'bytea', nullable: true })
  secretDataKey!: Buffer | null;

  @Column({ name: 'secret_kms_key_id', type: 'varchar', length: 2048, nullable: true })
  secretKmsKeyId!: string | null;

  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  @Column({ name: 'next_attempt_at', type: 'timestamptz' })
  nextAttemptAt!: Date;

  @Column({ name: 'sent_at', type: 'timestamptz', nullable: true })
  sentAt!: Date | null;

  @Column({ name: 'last_error', type: 'varchar', length: 500, nullable: true })
  lastError!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
