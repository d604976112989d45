/** The owner of `notifications` and `notification_reads` (read state per reader). */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { decodeCursor, encodeCursor, type Page, type PageQuery } from '../common/pagination';
import { Notification } from './entities/notification.entity';

export interface NotificationRow {
  id: string;
  kind: string;
  subject: string;
  body: string;
  createdAt: Date;
  /** The reader's own read mark. */
  readAt: Date | null;
}

export interface Reader {
  type: string;
  id: string;
  /** Only this firm's notifications (null: every one). */
  firm: string | null;
}

const MICROS = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

@Injectable()
export class NotificationsRepository {
  constructor(private readonly ds: DataSource) {}

  async insert(em: EntityManager, n: { kind: string; operatorId: string | null; subject: string; body: string }): Promise<string> {
    const repo = em.getRepository(Notification);
    const saved = await repo.save(repo.create(n));
    return saved.id;
  }

  /** Newest first, with the reader's own read mark. */
  async page(reader: Reader, q: PageQuery): Promise<Page<NotificationRow>> {
    const limit = q.limit ?? 20;
    const params: unknown[] = [reader.type, reader.id, limit + 1];
    const where: string[] = [];
    if (reader.firm) {
      params.push(reader.firm);
      where.push(`n.operator_id = $${params.length}`);
    }
    if (q.cursor) {
      const c = decodeCursor(q.cursor);
      params.push(c.t, c.id);
      where.push(`(n.created_at < $${params.length - 1} OR (n.created_at = $${params.length - 1} AND n.id < $${params.length}))`);
    }
    const rows = await this.ds.query<
      Array<{ id: string; kind: string; subject: string; body: string; created_at: Date; created_micros: string; read_at: Date | null }>
    >(
      `SELECT n.id, n.kind, n.subject, n.body, n.created_at, ${MICROS('n.created_at')} AS created_micros, r.read_at
         FROM notifications n
         LEFT JOIN notification_reads r ON r.notification_id = n.id AND r.reader_type = $1 AND r.reader_id = $2
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY n.created_at DESC, n.id DESC LIMIT $3`,
      params,
    );
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map((n) => ({ id: n.id, kind: n.kind, subject: n.subject, body: n.body, createdAt: n.created_at, readAt: n.read_at })),
      nextCursor: rows.length > limit && last ? encodeCursor(last.created_micros, last.id) : null,
    };
  }

  /** Marks a notification read for one reader (the first mark's time is kept); false when the reader cannot see it. */
  async markRead(reader: Reader, id: string): Promise<boolean> {
    const rows = await this.ds.query<Array<{ id: string }>>(
      `WITH target AS (SELECT id FROM notifications WHERE id = $1 AND ($4::uuid IS NULL OR operator_id = $4::uuid)),
            ins AS (INSERT INTO notification_reads (notification_id, reader_type, reader_id)
                    SELECT id, $2, $3 FROM target ON CONFLICT DO NOTHING)
       SELECT id FROM target`,
      [id, reader.type, reader.id, reader.firm],
    );
    return rows.length > 0;
  }
}
