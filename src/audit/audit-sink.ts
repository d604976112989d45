/**
 * The audit sink port: every login, key open, wallet issuance, admin action and
 * transaction is recorded through it. Events never carry key material: `details`
 * is checked for key-shaped values before it is stored.
 */
import type { EntityManager } from 'typeorm';
import type { AuditOutcome } from './audit-event.entity';

export interface AuditRecord {
  actor: {
    type: 'admin' | 'staff' | 'api-key' | 'operator' | 'system' | 'cli' | 'anonymous';
    id?: string | null;
    /** API keys: the staff member whose requests the key's count as, and the client address (stored in details.via). */
    owner?: string;
    clientIp?: string;
  };
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
  /** Records several events in one write (all or none); with `em`, inside the caller's transaction. */
  abstract recordMany(events: readonly AuditRecord[], em?: EntityManager): Promise<void>;
  /**
   * Runs `statement` (one INSERT/UPDATE … RETURNING) and records the event in the same SQL
   * statement, so both are written or neither, in one round trip without a transaction of
   * its own. Returns the statement's rows.
   */
  abstract recordWith<R>(event: AuditRecord, statement: { sql: string; params: unknown[] }, em?: EntityManager): Promise<R[]>;
}
