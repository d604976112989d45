/**
 * SQL of the hash chains (audit_chain joined with audit_events), their anchors (audit_anchors)
 * and the anchor key (audit_anchor_keys). The chainer, `verify`,
 * `export` and the anchorer read events in exactly one shape, `ChainedEvent`, so the bytes
 * hashed are the same everywhere. `at` is formatted by PostgreSQL, which keeps microseconds
 * (a JavaScript Date would drop them).
 */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type Repository } from 'typeorm';
import { decodeCursor, encodeCursor, type Page, type PageQuery } from '../common/pagination';
import type { ChainedEvent, ChainHead } from './audit-hash';
import { AuditAnchor } from './entities/audit-anchor.entity';
import { AuditAnchorKey } from './entities/audit-anchor-key.entity';

/** An event row as stored, before it has a place in a chain. */
export type EventContent = Omit<ChainedEvent, 'seq' | 'prevHash'>;

/** A chain row with its event (null when the event row is gone). */
export interface ChainRow {
  seq: number;
  prevHash: string;
  hash: string;
  event: EventContent | null;
}

const AT_UTC_MICROS = `to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const EVENT_COLUMNS = `e.id::text AS id, ${AT_UTC_MICROS} AS at, e.actor_type, e.actor_id, e.operator_id, e.action,
  e.subject_type, e.subject_id, e.outcome, e.details, e.request_id`;

interface EventRow {
  id: string;
  at: string;
  actor_type: string;
  actor_id: string | null;
  operator_id: string | null;
  action: string;
  subject_type: string | null;
  subject_id: string | null;
  outcome: string;
  details: unknown;
  request_id: string | null;
}

function contentOf(r: EventRow, chain: string): EventContent {
  return {
    chain,
    id: r.id,
    at: r.at,
    actor: { type: r.actor_type, id: r.actor_id },
    action: r.action,
    subject: r.subject_type !== null && r.subject_id !== null ? { type: r.subject_type, id: r.subject_id } : null,
    outcome: r.outcome,
    details: r.details,
    requestId: r.request_id,
  };
}

@Injectable()
export class AuditChainRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Committed events not yet in a chain, at or above `floor` (every event of an older
   * transaction is already chained), and the snapshot's horizon: the oldest transaction still
   * running when they were read. Both come from one statement, hence one snapshot.
   */
  async unchained(em: EntityManager, floor: string | null, limit: number): Promise<{ horizon: string; events: EventContent[] }> {
    const rows = await em.query<Array<EventRow & { horizon: string; chain: string | null }>>(
      `WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon),
            ev AS (SELECT ${EVENT_COLUMNS}, COALESCE(e.operator_id, 'platform') AS chain, e.txid, e.at AS at_ts
                     FROM audit_events e
                    WHERE ($1::bigint IS NULL OR e.txid >= $1::bigint)
                      AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id)
                    ORDER BY e.txid NULLS FIRST, e.at, e.id
                    LIMIT $2)
       SELECT h.horizon, ev.* FROM h LEFT JOIN ev ON true ORDER BY ev.txid NULLS FIRST, ev.at_ts, ev.id`,
      [floor, limit],
    );
    const horizon = rows[0]?.horizon ?? '0';
    return { horizon, events: rows.filter((r) => r.id !== null).map((r) => contentOf(r, r.chain ?? 'platform')) };
  }

  /** How many committed events wait for the chainer (bounded scan above `floor`). */
  async backlog(floor: string | null): Promise<number> {
    const [r] = await this.ds.query<Array<{ n: string }>>(
      `SELECT count(*)::text AS n FROM audit_events e
        WHERE ($1::bigint IS NULL OR e.txid >= $1::bigint)
          AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id)`,
      [floor],
    );
    return Number(r?.n ?? 0);
  }

  async headsOf(em: EntityManager, chains: readonly string[]): Promise<Map<string, ChainHead>> {
    const rows = await em.query<Array<{ chain: string; seq: string; hash: string }>>(
      `SELECT c.chain, h.seq::text AS seq, h.hash
         FROM unnest($1::varchar[]) AS c(chain)
         CROSS JOIN LATERAL (SELECT seq, hash FROM audit_chain a WHERE a.chain = c.chain ORDER BY seq DESC LIMIT 1) h`,
      [chains],
    );
    return new Map(rows.map((r) => [r.chain, { chain: r.chain, seq: Number(r.seq), hash: r.hash }]));
  }

  /** The head of every chain, by a skip scan over the primary key (cost grows with chains, not events). */
  async allHeads(em: EntityManager = this.ds.manager): Promise<ChainHead[]> {
    const rows = await em.query<Array<{ chain: string; seq: string; hash: string }>>(
      `WITH RECURSIVE c AS (
         (SELECT chain FROM audit_chain ORDER BY chain LIMIT 1)
         UNION ALL
         SELECT (SELECT a.chain FROM audit_chain a WHERE a.chain > c.chain ORDER BY a.chain LIMIT 1) FROM c WHERE c.chain IS NOT NULL)
       SELECT c.chain, h.seq::text AS seq, h.hash FROM c
        CROSS JOIN LATERAL (SELECT seq, hash FROM audit_chain a WHERE a.chain = c.chain ORDER BY seq DESC LIMIT 1) h
        WHERE c.chain IS NOT NULL ORDER BY c.chain`,
    );
    return rows.map((r) => ({ chain: r.chain, seq: Number(r.seq), hash: r.hash }));
  }

  async append(
    em: EntityManager,
    links: ReadonlyArray<{ chain: string; seq: number; eventId: string; prevHash: string; hash: string }>,
  ): Promise<void> {
    if (!links.length) return;
    await em.query(
      `INSERT INTO audit_chain (chain, seq, event_id, prev_hash, hash)
       SELECT * FROM unnest($1::varchar[], $2::bigint[], $3::uuid[], $4::bpchar[], $5::bpchar[])`,
      [
        links.map((l) => l.chain),
        links.map((l) => l.seq),
        links.map((l) => l.eventId),
        links.map((l) => l.prevHash),
        links.map((l) => l.hash),
      ],
    );
  }

  /** Rows of one chain with seq in [fromSeq, toSeq], ascending; the event is null when its row is gone. */
  async rows(
    chain: string,
    fromSeq: number,
    toSeq: number | null,
    limit: number,
    em: EntityManager = this.ds.manager,
  ): Promise<ChainRow[]> {
    const rows = await em.query<Array<Partial<EventRow> & { seq: string; prev_hash: string; hash: string }>>(
      `SELECT c.seq::text AS seq, c.prev_hash, c.hash, ${EVENT_COLUMNS}
         FROM audit_chain c LEFT JOIN audit_events e ON e.id = c.event_id
        WHERE c.chain = $1 AND c.seq >= $2 AND ($3::bigint IS NULL OR c.seq <= $3::bigint)
        ORDER BY c.seq LIMIT $4`,
      [chain, fromSeq, toSeq, limit],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      prevHash: r.prev_hash,
      hash: r.hash,
      // The chain hashed is the event's own tenant: moving an event to another firm breaks its hash.
      event: r.id ? contentOf(r as EventRow, r.operator_id ?? 'platform') : null,
    }));
  }

  /** Every chain that has at least one row. */
  async chains(): Promise<string[]> {
    return (await this.allHeads()).map((h) => h.chain);
  }

  /**
   * Runs `fn` in a transaction holding the advisory lock `lock` (one chainer, one anchorer
   * across instances); null when another instance holds it.
   */
  async locked<T>(lock: readonly [number, number], fn: (em: EntityManager) => Promise<T>): Promise<T | null> {
    return this.ds.transaction(async (em) => {
      const [row] = await em.query<Array<{ ok: boolean }>>('SELECT pg_try_advisory_xact_lock($1, $2) AS ok', [...lock]);
      return row?.ok ? fn(em) : null;
    });
  }

  /** Runs `fn` in a transaction of its own (committed when it returns). */
  transaction<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(fn);
  }

  /** Every anchor, oldest first. */
  anchors(): Promise<AuditAnchor[]> {
    return this.ds.getRepository(AuditAnchor).find({ order: { at: 'ASC', id: 'ASC' } });
  }

  lastAnchor(em: EntityManager): Promise<AuditAnchor | null> {
    return em.getRepository(AuditAnchor).findOne({ where: {}, order: { at: 'DESC', id: 'DESC' } });
  }

  async insertAnchor(em: EntityManager, a: Omit<AuditAnchor, 'id' | 'at'>): Promise<AuditAnchor> {
    const repo = em.getRepository(AuditAnchor);
    const row = repo.create(a);
    await repo.insert(row);
    return row;
  }

  /** Anchors newest first; for a firm only those carrying its chain. */
  async anchorsPage(firm: string | null, q: PageQuery): Promise<Page<AuditAnchor>> {
    const limit = q.limit ?? 20;
    const qb = this.ds
      .getRepository(AuditAnchor)
      .createQueryBuilder('a')
      .addSelect(`to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`, 'at_micros')
      .orderBy('a.at', 'DESC')
      .addOrderBy('a.id', 'DESC')
      .limit(limit + 1);
    if (firm) qb.andWhere(`a.heads @> :mine::jsonb`, { mine: JSON.stringify([{ chain: firm }]) });
    if (q.cursor) {
      const c = decodeCursor(q.cursor);
      qb.andWhere('(a.at < :ct OR (a.at = :ct AND a.id < :cid))', { ct: c.t, cid: c.id });
    }
    const { entities, raw } = await qb.getRawAndEntities<{ at_micros: string }>();
    const lastRaw = raw[limit - 1];
    const lastItem = entities[limit - 1];
    return {
      items: entities.slice(0, limit),
      nextCursor: entities.length > limit && lastRaw && lastItem ? encodeCursor(lastRaw.at_micros, lastItem.id) : null,
    };
  }

  /** The table of the platform's anchor key (for the sealed-key store and its first creation). */
  anchorKeys(em: EntityManager = this.ds.manager): Repository<AuditAnchorKey> {
    return em.getRepository(AuditAnchorKey);
  }
}
