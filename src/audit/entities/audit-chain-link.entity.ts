import { Column, CreateDateColumn, Entity, JoinColumn, OneToOne, PrimaryColumn } from 'typeorm';
import { AuditEvent } from '../audit-event.entity';

/**
 * One event's place in its chain: `seq` (gapless per chain, assigned by the chainer in the
 * order events become visible, i.e. commit order), `prevHash` and `hash`. Append-only by a
 * trigger, like audit_events: the chainer only ever adds rows.
 */
@Entity('audit_chain')
export class AuditChainLink {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  chain!: string;

  @PrimaryColumn({ type: 'bigint' })
  seq!: string;

  @Column({ name: 'event_id', type: 'uuid' })
  eventId!: string;

  @OneToOne(() => AuditEvent, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'event_id' })
  event!: AuditEvent;

  @Column({ name: 'prev_hash', type: 'char', length: 64 })
  prevHash!: string;

  @Column({ type: 'char', length: 64 })
  hash!: string;

  @CreateDateColumn({ name: 'chained_at', type: 'timestamptz' })
  chainedAt!: Date;
}
