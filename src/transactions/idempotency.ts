/**
 * Idempotency-Key handling: per principal, 24 h, storing only a SHA-256 of the request
 * (method, path, canonical body) and the id of what it created. Same key + same request
 * → the original answer; another request → 422 IDEMPOTENCY_KEY_REUSED; while the first
 * is still being accepted → 409 IDEMPOTENCY_KEY_IN_USE. A request that fails leaves no
 * record, so the client may retry with the same key.
 */
import { createHash, randomUUID } from 'node:crypto';

const ABANDONED_AFTER_SECONDS = 10;
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AppError, ValidationError } from '../common/app-error';

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** What a writer created: its id, and its answer when the writer already has it (saves a read). */
export interface Created<T> {
  id: string;
  value?: T;
}

export interface Prepared<T> {
  write: (em: EntityManager) => Promise<Created<T>>;
  /** The writer issues one SQL statement: without an Idempotency-Key it needs no transaction of its own. */
  singleStatement?: boolean;
}

@Injectable()
export class Idempotency {
  constructor(private readonly ds: DataSource) {}

  async run<T>(
    principalId: string,
    key: string | undefined,
    scope: string,
    body: unknown,
    /** Validates and pre-checks OUTSIDE any transaction (it may read the chain and the database), then returns the writer. */
    prepare: () => Promise<Prepared<T>>,
    load: (id: string) => Promise<T>,
  ): Promise<{ value: T; replayed: boolean }> {
    const answer = async (c: Created<T>) => c.value ?? (await load(c.id));
    if (key === undefined) {
      const { write, singleStatement } = await prepare();
      const created = singleStatement ? await write(this.ds.manager) : await this.ds.transaction(write);
      return { value: await answer(created), replayed: false };
    }
    if (!/^[\x21-\x7e]{1,255}$/.test(key))
      throw new ValidationError([{ field: 'Idempotency-Key', message: 'Idempotency-Key must be 1 to 255 visible ASCII characters' }]);
    const hash = createHash('sha256').update(scope).update('\n').update(canonical(body)).digest('hex');
    await this.ds.query(`DELETE FROM idempotency_keys WHERE principal_id = $1 AND key = $2 AND created_at < now() - interval '24 hours'`, [
      principalId,
      key,
    ]);
    // A claim left `in_progress` by an instance that died (kill -9) is taken over after
    // ABANDONED_AFTER; the claim id makes sure only one acceptance can ever complete.
    await this.ds.query(
      `DELETE FROM idempotency_keys WHERE principal_id = $1 AND key = $2 AND state = 'in_progress' AND request_hash = $3 AND created_at < now() - make_interval(secs => $4)`,
      [principalId, key, hash, ABANDONED_AFTER_SECONDS],
    );
    const claim = randomUUID();
    const inserted = await this.ds.query<Array<{ key: string }>>(
      `INSERT INTO idempotency_keys (principal_id, key, request_hash, state, resource_id) VALUES ($1, $2, $3, 'in_progress', $4) ON CONFLICT DO NOTHING RETURNING key`,
      [principalId, key, hash, claim],
    );
    if (!inserted.length) {
      const [row] = await this.ds.query<Array<{ request_hash: string; state: string; resource_id: string | null }>>(
        'SELECT request_hash, state, resource_id FROM idempotency_keys WHERE principal_id = $1 AND key = $2',
        [principalId, key],
      );
      if (!row) throw new AppError('IDEMPOTENCY_KEY_IN_USE', 'The first request with this Idempotency-Key just finished; retry');
      if (row.request_hash !== hash) throw new AppError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with another request');
      if (row.state !== 'done' || !row.resource_id)
        throw new AppError('IDEMPOTENCY_KEY_IN_USE', 'The first request with this Idempotency-Key is still being accepted', {
          headers: { 'Retry-After': '1' },
        });
      return { value: await load(row.resource_id), replayed: true };
    }
    try {
      const { write } = await prepare();
      const created = await this.ds.transaction(async (em) => {
        const c = await write(em);
        const [, n] = await em.query<[unknown[], number]>(
          `UPDATE idempotency_keys SET state = 'done', resource_id = $3 WHERE principal_id = $1 AND key = $2 AND state = 'in_progress' AND resource_id = $4`,
          [principalId, key, c.id, claim],
        );
        // Our claim was taken over (we were presumed dead): roll back rather than create a duplicate.
        if (!n)
          throw new AppError('IDEMPOTENCY_KEY_IN_USE', 'Another request took over this Idempotency-Key', {
            headers: { 'Retry-After': '1' },
          });
        return c;
      });
      return { value: await answer(created), replayed: false };
    } catch (e) {
      await this.ds.query(
        `DELETE FROM idempotency_keys WHERE principal_id = $1 AND key = $2 AND state = 'in_progress' AND resource_id = $3`,
        [principalId, key, claim],
      );
      throw e;
    }
  }
}
