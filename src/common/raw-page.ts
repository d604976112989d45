/**
 * Keyset pagination for repositories that write their SQL by hand, with the same cursor as
 * `paginate` (created_at at microsecond precision, then id; newest first).
 */
import type { DataSource, EntityManager } from 'typeorm';
import { decodeCursor, encodeCursor, type Page, type PageQuery } from './pagination';

/**
 * `from` is a FROM … WHERE … fragment whose rows have `created_at` and `id` (alias `t`),
 * `params` its parameters ($1…$n). The cursor condition and order are added here.
 */
export async function rawPage<Row extends { id: string }, R>(
  db: DataSource | EntityManager,
  sql: { select: string; from: string; params: unknown[] },
  query: PageQuery,
  map: (r: Row) => R,
): Promise<Page<R>> {
  const limit = query.limit ?? 20;
  const params = [...sql.params];
  let cond = '';
  if (query.cursor) {
    const c = decodeCursor(query.cursor);
    params.push(c.t, c.id);
    cond = ` AND (t.created_at, t.id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`;
  }
  params.push(limit + 1);
  const rows = await db.query<Array<Row & { page_cursor_t: string }>>(
    `SELECT ${sql.select}, to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS page_cursor_t
       ${sql.from}${cond} ORDER BY t.created_at DESC, t.id DESC LIMIT $${params.length}`,
    params,
  );
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items: items.map(map), nextCursor: rows.length > limit && last ? encodeCursor(last.page_cursor_t, last.id) : null };
}
