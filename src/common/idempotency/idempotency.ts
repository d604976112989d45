/**
 * Idempotency-Key handling: per principal, 24 h, storing only a SHA-256 of the request
 * (method, path, canonical body) and the id of what it created. Same key + same request
 * → the original answer; another request → 422 IDEMPOTENCY_KEY_REUSED; while the first
 * is still being accepted → 409 IDEMPOTENCY_KEY_IN_USE. A request that fails leaves no
 * record, so the client may retry with the same key.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AppError, ValidationError } from '../app-error';
import { IdempotencyRepository } from './idempotency.repository';

const ABANDONED_AFTER_SECONDS = 10;

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
interface Created<T> {
  id: string;
  value?: T;
}

export interface Prepared<T> {
  write: (em: EntityManager) => Promise<Created<T>>;
  /**
   * The writer issues one SQL statement, everything it sets off included (a queued transaction
   * is not one: transition hooks write beside it): without an Idempotency-Key it needs no
   * transaction of its own.
   */
  singleStatement?: boolean;
}

@Injectable()
export class Idempotency {
  constructor(private readonly repo: IdempotencyRepository) {}

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
      return { value: await answer(await this.repo.transaction(write, singleStatement)), replayed: false };
    }
    if (!/^[\x21-\x7e]{1,255}$/.test(key))
      throw new ValidationError([{ field: 'Idempotency-Key', message: 'Idempotency-Key must be 1 to 255 visible ASCII characters' }]);
    const hash = createHash('sha256').update(scope).update('\n').update(canonical(body)).digest('hex');
    // A claim left `in_progress` by an instance that died (kill -9) is taken over after
    // ABANDONED_AFTER; the claim id makes sure only one acceptance can ever complete.
    await this.repo.purge(principalId, key, hash, ABANDONED_AFTER_SECONDS);
    const claim = randomUUID();
    if (!(await this.repo.claim(principalId, key, hash, claim))) {
      const row = await this.repo.find(principalId, key);
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
      const created = await this.repo.transaction(async (em) => {
        const c = await write(em);
        // Our claim was taken over (we were presumed dead): roll back rather than create a duplicate.
        if (!(await this.repo.complete(em, principalId, key, claim, c.id)))
          throw new AppError('IDEMPOTENCY_KEY_IN_USE', 'Another request took over this Idempotency-Key', {
            headers: { 'Retry-After': '1' },
          });
        return c;
      });
      return { value: await answer(created), replayed: false };
    } catch (e) {
      await this.repo.release(principalId, key, claim);
      throw e;
    }
  }
}
