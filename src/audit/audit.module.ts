import { Global, Module } from '@nestjs/common';
import { AuditController } from './audit.controller';
import { AuditSink } from './audit-sink';
import { DatabaseAuditSink } from './database-audit-sink';

/** A sink: imports no feature module. */
@Global()
@Module({
  controllers: [AuditController],
  providers: [{ provide: AuditSink, useClass: DatabaseAuditSink }],
  exports: [AuditSink],
})
export class AuditModule {}
