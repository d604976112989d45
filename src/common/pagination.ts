import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { Brackets, type ObjectLiteral, type SelectQueryBuilder } from 'typeorm';
import { ValidationError } from './app-error';

export class PageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ description: 'Opaque cursor from the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Matches(/^[A-Za-z0-9_-]+$/, { message: 'cursor is not valid' })
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

interface CursorValue {
  t: string;
  id: string;
}

/** `t` is the row's timestamp at PostgreSQL's full (microsecond) precision, as ISO-8601 text. */
export function encodeCursor(createdAt: Date | string, id: string): string {
  const t = typeof createdAt === 'string' ? createdAt : createdAt.toISOString();
  return Buffer.from(JSON.stringify({ t, id } satisfies CursorValue)).toString('base64url');
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
/** Every paginated table has uuid ids. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function decodeCursor(cursor: string): CursorValue {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorValue>;
    // Only what encodeCursor writes: both values go into SQL (a timestamp, a uuid), and PostgreSQL parses fewer forms than Date.parse.
    if (typeof v.t === 'string' && typeof v.id === 'string' && ISO_UTC.test(v.t) && UUID.test(v.id) && !Number.isNaN(Date.parse(v.t)))
      return { t: v.t, id: v.id };
  } catch {
    /* fall through */
  }
  throw new ValidationError([{ field: 'cursor', message: 'cursor is not valid' }]);
}

/**
 * Keyset pagination, newest first, stable under concurrent inserts:
 * ORDER BY created_at DESC, id DESC with a (created_at, id) cursor. The cursor keeps the
 * timestamp at the database's microsecond precision: a JavaScript Date (milliseconds)
 * would make the next page skip rows created earlier within the same millisecond.
 */
export async function paginate<E extends ObjectLiteral & { id: string }, R>(
  qb: SelectQueryBuilder<E>,
  query: PageQuery,
  map: (e: E) => R,
  createdAtColumn = 'createdAt',
): Promise<Page<R>> {
  const limit = query.limit ?? 20;
  const alias = qb.alias;
  if (query.cursor) {
    const c = decodeCursor(query.cursor);
    qb.andWhere(
      new Brackets((w) => {
        w.where(`${alias}.${createdAtColumn} < :ct`, { ct: c.t }).orWhere(`${alias}.${createdAtColumn} = :ct AND ${alias}.id < :cid`, {
          ct: c.t,
          cid: c.id,
        });
      }),
    );
  }
  const { entities: rows, raw } = await qb
    .addSelect(`to_char(${alias}.${createdAtColumn} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`, 'page_cursor_t')
    .orderBy(`${alias}.${createdAtColumn}`, 'DESC')
    .addOrderBy(`${alias}.id`, 'DESC')
    .take(limit + 1)
    .getRawAndEntities<Record<string, unknown>>();
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  const lastT = last ? raw.find((r) => r[`${alias}_id`] === last.id)?.page_cursor_t : undefined;
  return {
    items: items.map(map),
    nextCursor: rows.length > limit && last && typeof lastT === 'string' ? encodeCursor(lastT, last.id) : null,
  };
}
