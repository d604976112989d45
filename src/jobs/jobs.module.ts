/**
 * Durable jobs and the LISTEN/NOTIFY wake-up channel. Exports `Jobs` (enqueue inside a
 * transaction, register handlers, read state) and `Notifier` (notify at commit, listen,
 * waitFor). Imports no feature module: features register their handlers on `Jobs`.
 */
import { Module } from '@nestjs/common';
import { Notifier } from '../database/notifier';
import { Jobs } from './jobs.service';
import { JobsRepository } from './jobs.repository';

@Module({
  providers: [JobsRepository, Notifier, Jobs],
  exports: [Jobs, Notifier],
})
export class JobsModule {}
