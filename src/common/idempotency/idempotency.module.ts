import { Global, Module } from '@nestjs/common';
import { Idempotency } from './idempotency';
import { IdempotencyRepository } from './idempotency.repository';

/** Idempotency-Key handling for any route that creates something (tokens, operations, batches, orders). */
@Global()
@Module({ providers: [Idempotency, IdempotencyRepository], exports: [Idempotency] })
export class IdempotencyModule {}
