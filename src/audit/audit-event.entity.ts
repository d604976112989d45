import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type AuditOutcome = 'success' | 'failure' | 'denied';

/** Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE (see the Init migration). */
@Entity('audit_events')
@Index('idx_audit_events_at', ['at', 'id'])
@Index('idx_audit_events_actor', ['actorId', 'at'])
@Index('idx_audit_events_action', ['action', 'at'])
@Index('idx_audit_events_operator', ['operatorId', 'at'])
@Index('idx_audit_events_txid', ['txid'])
export class AuditEvent {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  at!: Date;

  /** 'admin' | 'operator' | 'system' | 'cli' | 'anonymous' */
  @Column({ name: 'actor_type', type: 'varchar', length: 32 })
  actorType!: string;

  @Column({ name: 'actor_id', type: 'varchar', length: 64, nullable: true })
  actorId!: string | null;

  /** The tenant the event belongs to, so an operator can read its own trail. */
  @Column({ name: 'operator_id', type: 'varchar', length: 64, nullable: true })
  operatorId!: string | null;

  @Column({ type: 'varchar', length: 64 })
  action!: string;

  @Column({ name: 'subject_type', type: 'varchar', length: 32, nullable: true })
  subjectType!: string | null;

  @Column({ name: 'subject_id', type: 'varchar', length: 128, nullable: true })
  subjectId!: string | null;

  @Column({ type: 'varchar', length: 16 })
  outcome!: AuditOutcome;

  @Column({ type: 'jsonb' })
  details!: Record<string, unknown>;

  @Column({ name: 'request_id', type: 'varchar', length: 128, nullable: true })
  requestId!: string | null;

  /**
   * The writing transaction's id (xid8 as bigint), set by the database. The chainer reads
   * only events at or above the oldest transaction that was still running at its last pass,
   * so finding the not-yet-chained events stays cheap however long the trail grows. NULL for
   * events written before the chain existed (the chainer's first pass chains those from genesis).
   */
  @Column({ type: 'bigint', nullable: true, select: false, default: () => 'kagi_current_txid()' })
  txid!: string | null;
}
