/**
 * The CLI: the app's services without the HTTP server and without the signing pipeline.
 * Commands live in ./commands and are listed here; nothing in src/ imports the CLI.
 * `wallet:issue` runs in the narrower secure-room profile (secure-room.module.ts); this
 * module lists it too so that `--help` shows every command.
 */
import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { pinoParams } from '../common/logging';
import { AppConfig } from '../config/app-config';
import { CORE_MODULES } from '../core-modules';
import { GovernanceModule } from '../governance/governance.module';
import { TokensRepository } from '../tokens/tokens.repository';
import { JobsModule } from '../jobs/jobs.module';
import { MediaModule } from '../media/media.module';
import { AdminCreateCommand } from './commands/admin-create.command';
import { AuditVerifyCommand } from './commands/audit-verify.command';
import { GovernanceHandoverCommand } from './commands/governance-handover.command';
import { InfoCommand } from './commands/info.command';
import { KeysRewrapCommand } from './commands/keys-rewrap.command';
import { WalletIssueCommand } from './commands/wallet-issue.command';

@Module({
  imports: [
    ...CORE_MODULES,
    JobsModule.enqueueOnly(),
    MediaModule,
    // governance:handover: the configured governance signer's address (the new admin).
    GovernanceModule,
    LoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => pinoParams(config.logLevel === 'info' ? 'warn' : config.logLevel),
    }),
  ],
  providers: [
    InfoCommand,
    KeysRewrapCommand,
    AdminCreateCommand,
    WalletIssueCommand,
    AuditVerifyCommand,
    GovernanceHandoverCommand,
    TokensRepository,
  ],
})
export class CliModule {}
