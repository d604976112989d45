import { Global, Module } from '@nestjs/common';
import { AuditSink } from './audit-sink';
import { DatabaseAuditSink } from './database-audit-sink';

/** A sink: imports no feature module. */
@Global()
@Module({
  providers: [{ provide: AuditSink, useClass: DatabaseAuditSink }],
  exports: [AuditSink],
})
export class AuditModule {}
