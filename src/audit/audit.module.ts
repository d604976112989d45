import { Global, Module } from '@nestjs/common';
import { AuditAnchorer } from './audit-anchorer';
import { AuditChainController } from './audit-chain.controller';
import { AuditChainRepository } from './audit-chain.repository';
import { AuditChainService } from './audit-chain.service';
import { AuditChainer } from './audit-chainer';
import { AuditEventsRepository } from './audit-events.repository';
import { AuditController } from './audit.controller';
import { AuditSink } from './audit-sink';
import { AuditVerifier } from './audit-verifier';
import { DatabaseAuditSink } from './database-audit-sink';

/**
 * A sink: imports no feature module. The chainer and the anchorer run in the API process
 * only; the CLI gets the verifier for `audit:verify`.
 */
@Global()
@Module({
  // The chain routes first: `verify`, `export` and `anchors` are fixed paths under v1/audit-events.
  controllers: [AuditChainController, AuditController],
  providers: [
    AuditEventsRepository,
    { provide: AuditSink, useClass: DatabaseAuditSink },
    AuditChainRepository,
    AuditChainer,
    AuditVerifier,
    AuditAnchorer,
    AuditChainService,
  ],
  exports: [AuditSink, AuditChainer, AuditAnchorer, AuditVerifier],
})
export class AuditModule {}

/**
 * Only the sink (recording events): for processes that reach the database and nothing else —
 * the secure-room CLI has no chain, so no verifier or anchorer. The chainer in the API chains
 * what they record.
 */
@Global()
@Module({ providers: [AuditEventsRepository, { provide: AuditSink, useClass: DatabaseAuditSink }], exports: [AuditSink] })
export class AuditSinkModule {}
