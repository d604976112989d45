import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditSink, type AuditRecord } from './audit-sink';

/** A 32-byte hex or base64 run looks like a private key; such a value is never stored. */
const KEY_SHAPED = /(0x)?[0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=|[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/;
const SECRET_FIELD = /(password|secret|private|plaintext|token|mnemonic|seed)/i;
/** Fields whose values are public by nature (addresses, hashes) and may be hex. */
const PUBLIC_HEX_FIELD = /(address|hash|txhash|tx_hash)$/i;

function scrubDetails(details: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details)) {
    if (SECRET_FIELD.test(k)) {
      out[k] = '[redacted]';
    } else if (typeof v === 'string' && !PUBLIC_HEX_FIELD.test(k) && KEY_SHAPED.test(v)) {
      out[k] = '[redacted]';
    } else if (v && typeof v === 'object' && !Array.isArray(v)) {
      out[k] = scrubDetails(v as Record<string, unknown>);
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** One statement for any number of events (the signing pipeline records a batch at once). */
const INSERT_MANY = `INSERT INTO audit_events (actor_type, actor_id, operator_id, action, subject_type, subject_id, outcome, details, request_id)
  SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[], $7::varchar[], $8::jsonb[], $9::varchar[])`;

@Injectable()
export class DatabaseAuditSink extends AuditSink {
  constructor(private readonly ds: DataSource) {
    super();
  }

  record(e: AuditRecord, em?: EntityManager): Promise<void> {
    return this.recordMany([e], em);
  }

  recordWith<R>(e: AuditRecord, statement: { sql: string; params: unknown[] }, em?: EntityManager): Promise<R[]> {
    const n = statement.params.length;
    const p = (i: number) => `$${n + i}`;
    // A data-modifying CTE runs exactly once, whether or not the outer query reads it.
    const sql = `WITH main AS (${statement.sql}),
      audit AS (INSERT INTO audit_events (actor_type, actor_id, operator_id, action, subject_type, subject_id, outcome, details, request_id)
                VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}::jsonb, ${p(9)}))
      SELECT * FROM main`;
    const values = [
      e.actor.type,
      e.actor.id ?? null,
      e.operatorId ?? null,
      e.action,
      e.subject?.type ?? null,
      e.subject?.id ?? null,
      e.outcome,
      JSON.stringify(scrubDetails(e.details ?? {})),
      e.requestId ?? null,
    ];
    return (em ?? this.ds.manager).query<R[]>(sql, [...statement.params, ...values]);
  }

  async recordMany(events: readonly AuditRecord[], em?: EntityManager): Promise<void> {
    if (!events.length) return;
    const col = <T>(f: (e: AuditRecord) => T) => events.map(f);
    await (em ?? this.ds.manager).query(INSERT_MANY, [
      col((e) => e.actor.type),
      col((e) => e.actor.id ?? null),
      col((e) => e.operatorId ?? null),
      col((e) => e.action),
      col((e) => e.subject?.type ?? null),
      col((e) => e.subject?.id ?? null),
      col((e) => e.outcome),
      col((e) => JSON.stringify(scrubDetails(e.details ?? {}))),
      col((e) => e.requestId ?? null),
    ]);
  }
}
