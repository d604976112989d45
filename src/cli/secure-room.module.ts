/**
 * The secure-room profile of the CLI (`wallet:issue`): the modules issuance needs and
 * nothing that reaches past the database. No chain module (no JSON-RPC client is even
 * constructed), no KMS module (the login does not open a sealed secret today; when an
 * admin's TOTP secret must be opened, KMS comes in here, only for that admin), no health
 * module and no signing pipeline; the configuration profile (secureRoomConfig) drops
 * SMTP_URL, so the mail worker never starts and a reissue's notice waits in the outbox
 * for the API to send it.
 */
import { Global, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { pinoParams } from '../common/logging';
import { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { DatabaseModule } from '../database/database.module';
import { Metrics } from '../health/metrics';
import { MediaModule } from '../media/media.module';
import { NotificationsModule } from '../notifications/notifications.module';
import { UsersModule } from '../users/users.module';
import { WalletIssueCommand } from './commands/wallet-issue.command';

/** The process metrics registry some services count into; never served from the secure room. */
@Global()
@Module({ providers: [Metrics], exports: [Metrics] })
class SecureRoomMetricsModule {}

/** The secure-room configuration: the API's, without anything that leaves the room but the database. */
export function secureRoomConfig(c: AppConfig): AppConfig {
  return AppConfig.of({ ...c, mail: { ...c.mail, smtpUrl: undefined } });
}

@Module({
  imports: [
    ConfigModule,
    DatabaseModule,
    SecureRoomMetricsModule,
    AuditModule,
    AuthModule,
    NotificationsModule,
    UsersModule,
    MediaModule,
    LoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => pinoParams(config.logLevel === 'info' ? 'warn' : config.logLevel),
    }),
  ],
  providers: [WalletIssueCommand],
})
export class SecureRoomModule {}
