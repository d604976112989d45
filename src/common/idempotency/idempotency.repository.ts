/** The idempotency_keys table (owned by common/idempotency): hashes and ids only, never a body. */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

export interface IdempotencyRow {
  request_hash: string;
  state: 'in_progress' | 'done';
  resource_id: string | null;
}

@Injectable()
export class IdempotencyRepository {
  constructor(private readonly ds: DataSource) {}

  /** Runs `write` in one database transaction (or, for a single-statement writer, without one). */
  transaction<T>(write: (em: EntityManager) => Promise<T>, singleStatement = false): Promise<T> {
    return singleStatement ? write(this.ds.manager) : this.ds.transaction(write);
  }

  /** Forgets the key when it is older than 24 h, or an `in_progress` claim of this request older than `abandonedAfter` s. */
  async purge(principalId: string, key: string, hash: string, abandonedAfter: number): Promise<void> {
    await this.ds.query(
      `DELETE FROM idempotency_keys WHERE principal_id = $1 AND key = $2
          AND (created_at < now() - interval '24 hours'
               OR (state = 'in_progress' AND request_hash = $3 AND created_at < now() - make_interval(secs => $4)))`,
      [principalId, key, hash, abandonedAfter],
    );
  }

  /** True when this claim is now the key's only record. */
  async claim(principalId: string, key: string, hash: string, claim: string): Promise<boolean> {
    const inserted = await this.ds.query<Array<{ key: string }>>(
      `INSERT INTO idempotency_keys (principal_id, key, request_hash, state, resource_id) VALUES ($1, $2, $3, 'in_progress', $4) ON CONFLICT DO NOTHING RETURNING key`,
      [principalId, key, hash, claim],
    );
    return inserted.length > 0;
  }

  async find(principalId: string, key: string): Promise<IdempotencyRow | undefined> {
    const [row] = await this.ds.query<IdempotencyRow[]>(
      'SELECT request_hash, state, resource_id FROM idempotency_keys WHERE principal_id = $1 AND key = $2',
      [principalId, key],
    );
    return row;
  }

  /** Marks the claim done with what it created, in the writer's transaction; false when the claim was taken over. */
  async complete(em: EntityManager, principalId: string, key: string, claim: string, resourceId: string): Promise<boolean> {
    const [, n] = await em.query<[unknown[], number]>(
      `UPDATE idempotency_keys SET state = 'done', resource_id = $3 WHERE principal_id = $1 AND key = $2 AND state = 'in_progress' AND resource_id = $4`,
      [principalId, key, resourceId, claim],
    );
    return n > 0;
  }

  async release(principalId: string, key: string, claim: string): Promise<void> {
    await this.ds.query(
      `DELETE FROM idempotency_keys WHERE principal_id = $1 AND key = $2 AND state = 'in_progress' AND resource_id = $3`,
      [principalId, key, claim],
    );
  }
}
