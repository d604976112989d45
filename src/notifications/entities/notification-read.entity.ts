import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Notification } from './notification.entity';

/** One reader's read mark: an admin reading a notification does not mark it for the firm, and vice versa. */
@Entity('notification_reads')
@Index('idx_notification_reads_reader', ['readerType', 'readerId'])
export class NotificationRead {
  @PrimaryColumn({ name: 'notification_id', type: 'uuid' })
  notificationId!: string;

  @ManyToOne(() => Notification, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'notification_id' })
  notification!: Notification;

  @PrimaryColumn({ name: 'reader_type', type: 'varchar', length: 16 })
  readerType!: string;

  @PrimaryColumn({ name: 'reader_id', type: 'varchar', length: 64 })
  readerId!: string;

  @Column({ name: 'read_at', type: 'timestamptz', default: () => 'now()' })
  readAt!: Date;
}
