import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditEventsRepository, type EventValues } from './audit-events.repository';
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

/** An API key's owner and client address go with the event's details (`via`), beside the actor {type, id}. */
function detailsOf(e: AuditRecord): Record<string, unknown> {
  const { owner, clientIp } = e.actor;
  if (owner === undefined && clientIp === undefined) return e.details ?? {};
  return { ...e.details, via: { ...(owner ? { owner } : {}), ...(clientIp ? { clientIp } : {}) } };
}

function valuesOf(e: AuditRecord): EventValues {
  return [
    e.actor.type,
    e.actor.id ?? null,
    e.operatorId ?? null,
    e.action,
    e.subject?.type ?? null,
    e.subject?.id ?? null,
    e.outcome,
    JSON.stringify(scrubDetails(detailsOf(e))),
    e.requestId ?? null,
  ];
}

/** Scrubs what it is given, then writes through the owner of `audit_events`. */
@Injectable()
export class DatabaseAuditSink extends AuditSink {
  constructor(private readonly events: AuditEventsRepository) {
    super();
  }

  record(e: AuditRecord, em?: EntityManager): Promise<void> {
    return this.events.insertMany([valuesOf(e)], em);
  }

  recordWith<R>(e: AuditRecord, statement: { sql: string; params: unknown[] }, em?: EntityManager): Promise<R[]> {
    return this.events.insertWith<R>(statement, valuesOf(e), em);
  }

  recordMany(events: readonly AuditRecord[], em?: EntityManager): Promise<void> {
    return this.events.insertMany(events.map(valuesOf), em);
  }
}
