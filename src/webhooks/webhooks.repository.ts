/**
 * SQL of webhook_endpoints, webhook_events and webhook_deliveries (src/webhooks owns them).
 * Tenancy is part of every endpoint query: a firm's endpoints have its operator_id, the
 * platform's have NULL, and a foreign id reads as unknown.
 */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { SealedSecret } from '../kms/envelope';

export interface EndpointRow {
  id: string;
  operator_id: string | null;
  url: string;
  events: string[];
  enabled: boolean;
  disabled_reason: 'manual' | 'failing' | null;
  secret_version: number;
  created_at: Date;
  created_micros: string;
}

export interface EndpointSecrets {
  current: { version: number; sealed: SealedSecret };
  previous: { version: number; sealed: SealedSecret } | null;
}

export interface DeliveryRow {
  id: string;
  event_id: string;
  type: string;
  sequence: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  response_status: number | null;
  at: Date;
  created_micros: string;
}

/** The head of an endpoint: its lowest undelivered event, with what the request needs. */
export interface HeadDelivery {
  id: string;
  event_id: string;
  sequence: string;
  status: 'pending' | 'failed';
  attempts: number;
  failing_since: Date | null;
  due: boolean;
  type: string;
  data: unknown;
  occurred_at: string;
}

const MICROS = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const ENDPOINT_COLUMNS = `id, operator_id, url, events, enabled, disabled_reason, secret_version, created_at, ${MICROS('created_at')} AS created_micros`;

/**
 * The outbox insert, as a function of the caller's EntityManager (the writers in
 * webhook-events.ts need no DI, so the secure-room CLI can call them): stores the events whose
 * tenant has an endpoint subscribing to their type, in order; returns how many were stored.
 */
export async function insertSubscribedEvents(
  em: EntityManager,
  events: ReadonlyArray<{ tenant: string | null; type: string; data: Record<string, unknown> }>,
  /** Notified (at commit) by the same statement when anything was stored. */
  channel: string,
): Promise<number> {
  const [row] = await em.query<Array<{ stored: number }>>(
    `WITH ins AS (
       INSERT INTO webhook_events (operator_id, type, data)
       SELECT e.tenant, e.type, e.data
         FROM unnest($1::uuid[], $2::varchar[], $3::jsonb[]) WITH ORDINALITY AS e(tenant, type, data, n)
        WHERE EXISTS (SELECT 1 FROM webhook_endpoints w
                       WHERE w.operator_id IS NOT DISTINCT FROM e.tenant AND e.type = ANY (w.events))
        ORDER BY e.n
       RETURNING id),
     n AS (SELECT count(*)::int AS stored FROM ins)
     SELECT stored, CASE WHEN stored > 0 THEN pg_notify($4, '') END AS notified FROM n`,
    [events.map((e) => e.tenant), events.map((e) => e.type), events.map((e) => JSON.stringify(e.data)), channel],
  );
  return row?.stored ?? 0;
}

@Injectable()
export class WebhooksRepository {
  constructor(private readonly ds: DataSource) {}

  transaction<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(fn);
  }

  // ---- endpoints --------------------------------------------------------------------------

  async insertEndpoint(
    em: EntityManager,
    e: { id: string; tenant: string | null; url: string; events: string[]; sealed: SealedSecret; createdBy: string },
  ): Promise<void> {
    await em.query(
      `INSERT INTO webhook_endpoints (id, operator_id, url, events, encrypted_secret, encrypted_data_key, kms_key_id, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [e.id, e.tenant, e.url, e.events, e.sealed.encryptedKey, e.sealed.encryptedDataKey, e.sealed.kmsKeyId, e.createdBy],
    );
  }

  async find(id: string, tenant: string | null, em: EntityManager = this.ds.manager): Promise<EndpointRow | undefined> {
    const [row] = await em.query<EndpointRow[]>(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND operator_id IS NOT DISTINCT FROM $2`,
      [id, tenant],
    );
    return row;
  }

  /** Newest first, keyset on (created_at, id). */
  list(tenant: string | null, limit: number, cursor: { t: string; id: string } | null): Promise<EndpointRow[]> {
    return this.ds.query<EndpointRow[]>(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints
        WHERE operator_id IS NOT DISTINCT FROM $1
          AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
        ORDER BY created_at DESC, id DESC LIMIT $2`,
      [tenant, limit, cursor?.t ?? null, cursor?.id ?? null],
    );
  }

  async update(
    em: EntityManager,
    id: string,
    patch: { events?: string[]; enabled?: boolean; disabledReason?: 'manual' | 'failing' | null },
  ): Promise<void> {
    await em.query(
      `UPDATE webhook_endpoints
          SET events = COALESCE($2, events),
              enabled = COALESCE($3, enabled),
              disabled_reason = CASE WHEN $3::boolean IS NULL THEN disabled_reason WHEN $3 THEN NULL ELSE $4 END,
              disabled_at = CASE WHEN $3::boolean IS NULL THEN disabled_at WHEN $3 THEN NULL ELSE now() END,
              updated_at = now()
        WHERE id = $1`,
      [id, patch.events ?? null, patch.enabled ?? null, patch.disabledReason ?? null],
    );
  }

  /** A re-enabled endpoint resumes from its held event: the failed head is pending again, with a fresh 24 h window. */
  async resumeHeld(em: EntityManager, endpointId: string): Promise<void> {
    await em.query(
      `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), failing_since = NULL
        WHERE endpoint_id = $1 AND status = 'failed'`,
      [endpointId],
    );
  }

  async delete(id: string, tenant: string | null): Promise<boolean> {
    const [, n] = await this.ds.query<[unknown, number]>(
      `DELETE FROM webhook_endpoints WHERE id = $1 AND operator_id IS NOT DISTINCT FROM $2`,
      [id, tenant],
    );
    return n > 0;
  }

  async secrets(id: string): Promise<EndpointSecrets | undefined> {
    const [r] = await this.ds.query<
      Array<{
        secret_version: number;
        encrypted_secret: Buffer;
        encrypted_data_key: Buffer;
        kms_key_id: string;
        previous_encrypted_secret: Buffer | null;
        previous_encrypted_data_key: Buffer | null;
        previous_kms_key_id: string | null;
        previous_live: boolean;
      }>
    >(
      `SELECT secret_version, encrypted_secret, encrypted_data_key, kms_key_id,
              previous_encrypted_secret, previous_encrypted_data_key, previous_kms_key_id,
              COALESCE(previous_expires_at > now(), false) AS previous_live
         FROM webhook_endpoints WHERE id = $1`,
      [id],
    );
    if (!r) return undefined;
    const current = {
      version: r.secret_version,
      sealed: { encryptedKey: r.encrypted_secret, encryptedDataKey: r.encrypted_data_key, kmsKeyId: r.kms_key_id },
    };
    const previous =
      r.previous_live && r.previous_encrypted_secret && r.previous_encrypted_data_key && r.previous_kms_key_id
        ? {
            version: r.secret_version - 1,
            sealed: {
              encryptedKey: r.previous_encrypted_secret,
              encryptedDataKey: r.previous_encrypted_data_key,
              kmsKeyId: r.previous_kms_key_id,
            },
          }
        : null;
    return { current, previous };
  }

  /** The current secret becomes the previous one (signing along for `overlapSeconds`); `sealed` is version+1. */
  async rotate(em: EntityManager, id: string, version: number, sealed: SealedSecret, overlapSeconds: number): Promise<boolean> {
    const [, n] = await em.query<[unknown, number]>(
      `UPDATE webhook_endpoints
          SET previous_encrypted_secret = encrypted_secret, previous_encrypted_data_key = encrypted_data_key,
              previous_kms_key_id = kms_key_id, previous_expires_at = now() + make_interval(secs => $5),
              encrypted_secret = $3, encrypted_data_key = $4, kms_key_id = $6, secret_version = $2, updated_at = now()
        WHERE id = $1 AND secret_version = $2 - 1`,
      [id, version, sealed.encryptedKey, sealed.encryptedDataKey, overlapSeconds, sealed.kmsKeyId],
    );
    return n > 0;
  }

  // ---- deliveries log ---------------------------------------------------------------------

  deliveries(endpointId: string, limit: number, cursor: { t: string; id: string } | null): Promise<DeliveryRow[]> {
    return this.ds.query<DeliveryRow[]>(
      `SELECT d.id, d.event_id, ev.type, d.sequence::text AS sequence, d.status, d.attempts, d.response_status,
              COALESCE(d.last_attempt_at, d.created_at) AS at, ${MICROS('d.created_at')} AS created_micros
         FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
        WHERE d.endpoint_id = $1
          AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3::timestamptz, $4::uuid))
        ORDER BY d.created_at DESC, d.id DESC LIMIT $2`,
      [endpointId, limit, cursor?.t ?? null, cursor?.id ?? null],
    );
  }

  /** Makes a delivery due now (again): a failed one gets a fresh 24 h window; a delivered one is sent once more, in its place. */
  async retryDelivery(endpointId: string, deliveryId: string): Promise<boolean> {
    const [, n] = await this.ds.query<[unknown, number]>(
      `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), failing_since = NULL
        WHERE id = $1 AND endpoint_id = $2`,
      [deliveryId, endpointId],
    );
    return n > 0;
  }

  // ---- sequencer --------------------------------------------------------------------------

  /**
   * Committed events not yet fanned out, in (txid, time, id) order, read in one snapshot. An
   * event is taken by the first pass that sees it committed: sequence follows commit order at
   * the resolution of a pass (the audit chainer's approach).
   */
  unsequenced(em: EntityManager, limit: number): Promise<Array<{ id: string; operator_id: string | null; type: string }>> {
    return em.query(`SELECT id, operator_id, type FROM webhook_events WHERE sequenced_at IS NULL ORDER BY txid, occurred_at, id LIMIT $1`, [
      limit,
    ]);
  }

  /** Every endpoint of these tenants (enabled or not: a disabled endpoint's events are held, not dropped), locked for its counter. */
  endpointsOf(
    em: EntityManager,
    tenants: ReadonlyArray<string | null>,
  ): Promise<Array<{ id: string; operator_id: string | null; events: string[]; next_sequence: string }>> {
    const firms = tenants.filter((t): t is string => t !== null);
    return em.query(
      `SELECT id, operator_id, events, next_sequence::text AS next_sequence FROM webhook_endpoints
        WHERE operator_id = ANY($1::uuid[]) OR ($2 AND operator_id IS NULL)
        ORDER BY id FOR UPDATE`,
      [firms, tenants.includes(null)],
    );
  }

  /**
   * The pass's writes in one statement: the deliveries, the endpoints' counters, the events
   * marked sequenced, and (at commit) a wake-up on `channel` when any delivery was added.
   */
  async fanOut(
    em: EntityManager,
    deliveries: ReadonlyArray<{ endpointId: string; eventId: string; sequence: number }>,
    counters: ReadonlyMap<string, number>,
    eventIds: readonly string[],
    channel: string,
  ): Promise<void> {
    await em.query(
      `WITH d AS (
         INSERT INTO webhook_deliveries (endpoint_id, event_id, sequence)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[])
         RETURNING 1),
       c AS (
         UPDATE webhook_endpoints w SET next_sequence = c.next FROM unnest($4::uuid[], $5::bigint[]) AS c(id, next)
          WHERE w.id = c.id RETURNING 1),
       e AS (
         UPDATE webhook_events SET sequenced_at = now() WHERE id = ANY($6::uuid[]) RETURNING 1)
       SELECT (SELECT count(*) FROM c) AS counters, (SELECT count(*) FROM e) AS events,
              CASE WHEN (SELECT count(*) FROM d) > 0 THEN pg_notify($7, '') END AS notified`,
      [
        deliveries.map((d) => d.endpointId),
        deliveries.map((d) => d.eventId),
        deliveries.map((d) => d.sequence),
        [...counters.keys()],
        [...counters.values()],
        eventIds,
        channel,
      ],
    );
  }

  // ---- dispatcher -------------------------------------------------------------------------

  /**
   * Leases up to `limit` enabled endpoints whose head delivery is due and that no live
   * instance holds: one sender per endpoint across instances, so its events go in order.
   */
  async claim(worker: string, limit: number, leaseMs: number, exclude: readonly string[]): Promise<Array<{ id: string }>> {
    // An UPDATE … RETURNING answers [rows, count] through TypeORM.
    const [rows] = await this.ds.query<[Array<{ id: string }>, number]>(
      `UPDATE webhook_endpoints w SET lease_until = now() + make_interval(secs => $3::double precision / 1000), leased_by = $1
        WHERE w.id IN (
          SELECT e.id FROM webhook_endpoints e
           WHERE e.enabled AND (e.lease_until IS NULL OR e.lease_until < now()) AND NOT (e.id = ANY($4::uuid[]))
             AND EXISTS (SELECT 1 FROM webhook_deliveries d
                          WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= now()
                            AND d.sequence = (SELECT min(h.sequence) FROM webhook_deliveries h
                                               WHERE h.endpoint_id = e.id AND h.status <> 'delivered'))
           LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING w.id`,
      [worker, limit, leaseMs, exclude],
    );
    return rows;
  }

  async release(id: string, worker: string): Promise<void> {
    await this.ds.query(`UPDATE webhook_endpoints SET lease_until = NULL, leased_by = NULL WHERE id = $1 AND leased_by = $2`, [id, worker]);
  }

  /**
   * The endpoint's lowest undelivered deliveries, in sequence order (the first is the head,
   * which holds back the rest), with the endpoint's URL: one read for a run of sends.
   */
  heads(endpointId: string, limit: number): Promise<Array<HeadDelivery & { url: string; operator_id: string | null }>> {
    return this.ds.query<Array<HeadDelivery & { url: string; operator_id: string | null }>>(
      `SELECT d.id, d.event_id, d.sequence::text AS sequence, d.status, d.attempts, d.failing_since,
              d.next_attempt_at <= now() AS due, ev.type, ev.data, ${MICROS('ev.occurred_at')} AS occurred_at,
              w.url, w.operator_id
         FROM webhook_deliveries d
         JOIN webhook_events ev ON ev.id = d.event_id
         JOIN webhook_endpoints w ON w.id = d.endpoint_id
        WHERE d.endpoint_id = $1 AND d.status <> 'delivered'
        ORDER BY d.sequence LIMIT $2`,
      [endpointId, limit],
    );
  }

  /**
   * Records one attempt and renews the lease in one statement, fenced by the lease: nothing is
   * written when this worker no longer holds the endpoint (undefined). `retryInMs`: the delay
   * before the next attempt when this one failed.
   */
  async recordAttempt(
    d: { id: string; endpointId: string; worker: string; leaseMs: number },
    r: { delivered: boolean; responseStatus: number | null; error: string | null; retryInMs: number },
  ): Promise<{ failingSince: Date | null } | undefined> {
    // An UPDATE … RETURNING (also under WITH) answers [rows, count] through TypeORM.
    const [[row]] = await this.ds.query<[Array<{ failing_since: Date | null }>, number]>(
      `WITH lease AS (
         UPDATE webhook_endpoints SET lease_until = now() + make_interval(secs => $8::double precision / 1000)
          WHERE id = $2 AND leased_by = $7 AND enabled RETURNING id)
       UPDATE webhook_deliveries d
          SET attempts = d.attempts + 1, last_attempt_at = now(), response_status = $3, last_error = $4,
              status = CASE WHEN $5 THEN 'delivered' ELSE 'pending' END,
              failing_since = CASE WHEN $5 THEN NULL ELSE COALESCE(d.failing_since, now()) END,
              next_attempt_at = now() + make_interval(secs => $6::double precision / 1000)
        WHERE d.id = $1 AND d.endpoint_id IN (SELECT id FROM lease)
        RETURNING d.failing_since`,
      [d.id, d.endpointId, r.responseStatus, r.error?.slice(0, 300) ?? null, r.delivered, r.retryInMs, d.worker, d.leaseMs],
    );
    return row ? { failingSince: row.failing_since } : undefined;
  }

  /** The head failed for the whole window: it is held as `failed` and the endpoint disabled, in `em`'s transaction. */
  async disableFailing(em: EntityManager, endpointId: string, deliveryId: string): Promise<boolean> {
    await em.query(`UPDATE webhook_deliveries SET status = 'failed' WHERE id = $1`, [deliveryId]);
    const [, n] = await em.query<[unknown, number]>(
      `UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'failing', disabled_at = now(), lease_until = NULL,
              leased_by = NULL, updated_at = now()
        WHERE id = $1 AND enabled`,
      [endpointId],
    );
    return n > 0;
  }
}
