/**
 * Durable jobs and the LISTEN/NOTIFY wake-up channel. Exports `Jobs` (enqueue inside a
 * transaction, register handlers, read state) and `Notifier` (notify at commit, listen,
 * waitFor). Imports no feature module: features register their handlers on `Jobs`.
 */
import { type DynamicModule, Global, Module } from '@nestjs/common';
import { Notifier } from '../database/notifier';
import { Jobs, JOBS_SETTINGS } from './jobs.service';
import { JobsRepository } from './jobs.repository';

/** Global: the API imports it once (with the worker); the CLI imports `enqueueOnly()`. */
@Global()
@Module({
  providers: [JobsRepository, Notifier, Jobs],
  exports: [Jobs, Notifier],
})
export class JobsModule {
  /** For the secure-room CLI: enqueue (e.g. the lost-wallet freeze) without running a worker in that process. */
  static enqueueOnly(): DynamicModule {
    return {
      module: JobsModule,
      global: true,
      providers: [JobsRepository, Notifier, Jobs, { provide: JOBS_SETTINGS, useValue: { worker: false } }],
      exports: [Jobs, Notifier],
    };
  }
}
