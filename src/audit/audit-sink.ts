/**
 * The audit sink port: every login, key open, wallet issuance, admin action and
 * transaction is recorded through it. Events never carry key material: `details`
 * is checked for key-shaped values before it is stored.
 */
import type { EntityManager } from 'typeorm';
import type { AuditOutcome } from './audit-event.entity';

export interface AuditRecord {
  actor: { type: 'admin' | 'operator' | 'system' | 'cli' | 'anonymous'; id?: string | null };
  /** The tenant (operator) the event concerns, when there is one. */
  operatorId?: string | null;
  action: string;
  subject?: { type: string; id: string } | null;
  outcome: AuditOutcome;
  details?: Record<string, unknown>;
  requestId?: string | null;
}

export abstract class AuditSink {
  /** Records one event; with `em`, inside the caller's database transaction. */
  abstract record(event: AuditRecord, em?: EntityManager): Promise<void>;
}
