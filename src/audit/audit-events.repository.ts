/**
 * The owner of `audit_events` (append-only by a trigger): the sink's inserts and the trail's
 * listing. Details are scrubbed by the sink before they get here.
 */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { AuditEvent } from './audit-event.entity';

/** One event's columns, in INSERT order. */
export type EventValues = readonly [
  actorType: string,
  actorId: string | null,
  operatorId: string | null,
  action: string,
  subjectType: string | null,
  subjectId: string | null,
  outcome: string,
  details: string,
  requestId: string | null,
];

const COLUMNS = 'actor_type, actor_id, operator_id, action, subject_type, subject_id, outcome, details, request_id';

/** One statement for any number of events (the signing pipeline records a batch at once). */
const INSERT_MANY = `INSERT INTO audit_events (${COLUMNS})
  SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[], $7::varchar[], $8::jsonb[], $9::varchar[])`;

export interface AuditFilter {
  /** Only this firm's events (null: every event). */
  operatorId: string | null;
  actorTypes?: string[];
  actorId?: string;
  action?: string;
  from?: string;
  to?: string;
}

@Injectable()
export class AuditEventsRepository {
  constructor(private readonly ds: DataSource) {}

  async insertMany(events: readonly EventValues[], em?: EntityManager): Promise<void> {
    if (!events.length) return;
    await (em ?? this.ds.manager).query(
      INSERT_MANY,
      Array.from({ length: 9 }, (_, i) => events.map((e) => e[i])),
    );
  }

  /**
   * Runs `statement` and inserts one event in the same SQL statement (a data-modifying CTE runs
   * exactly once, whether or not the outer query reads it), answering the statement's rows.
   */
  insertWith<R>(statement: { sql: string; params: unknown[] }, event: EventValues, em?: EntityManager): Promise<R[]> {
    const n = statement.params.length;
    const p = (i: number) => `$${n + i}`;
    const sql = `WITH main AS (${statement.sql}),
      audit AS (INSERT INTO audit_events (${COLUMNS})
                VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}::jsonb, ${p(9)}))
      SELECT * FROM main`;
    return (em ?? this.ds.manager).query<R[]>(sql, [...statement.params, ...event]);
  }

  /** The trail, newest first. */
  page<T>(f: AuditFilter, q: PageQuery, map: (e: AuditEvent) => T): Promise<Page<T>> {
    const qb = this.ds.getRepository(AuditEvent).createQueryBuilder('e');
    if (f.operatorId !== null) qb.andWhere('e.operator_id = :me', { me: f.operatorId });
    if (f.actorTypes) qb.andWhere('e.actor_type IN (:...types)', { types: f.actorTypes });
    if (f.actorId) qb.andWhere('e.actor_id = :actor', { actor: f.actorId });
    if (f.action) qb.andWhere('e.action = :action', { action: f.action });
    if (f.from) qb.andWhere('e.at >= :from', { from: f.from });
    if (f.to) qb.andWhere('e.at < :to', { to: f.to });
    return paginate(qb, q, map, 'at');
  }
}
