import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { AuditEvent } from './audit-event.entity';
import { AuditSink, type AuditRecord } from './audit-sink';

/** A 32-byte hex or base64 run looks like a private key; such a value is never stored. */
const KEY_SHAPED = /(0x)?[0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=|[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/;
const SECRET_FIELD = /(password|secret|private|plaintext|token|mnemonic|seed)/i;
/** Fields whose values are public by nature (addresses, hashes) and may be hex. */
const PUBLIC_HEX_FIELD = /(address|hash|txhash|tx_hash)$/i;

export function scrubDetails(details: Record<string, unknown>): Record<string, unknown> {
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

@Injectable()
export class DatabaseAuditSink extends AuditSink {
  constructor(private readonly ds: DataSource) {
    super();
  }

  async record(e: AuditRecord, em?: EntityManager): Promise<void> {
    const repo = (em ?? this.ds.manager).getRepository(AuditEvent);
    await repo.insert({
      actorType: e.actor.type,
      actorId: e.actor.id ?? null,
      operatorId: e.operatorId ?? null,
      action: e.action,
      subjectType: e.subject?.type ?? null,
      subjectId: e.subject?.id ?? null,
      outcome: e.outcome,
      details: scrubDetails(e.details ?? {}) as QueryDeepPartialEntity<Record<string, unknown>>,
      requestId: e.requestId ?? null,
    });
  }
}
