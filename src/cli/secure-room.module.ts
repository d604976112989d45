/**
 * The secure-room profile of the CLI (`wallet:issue`): the modules issuance needs and
 * nothing that reaches past the database, whatever the environment says. No chain
 * module (no JSON-RPC client is even constructed, CHAIN_RPC_URL is never used), no KMS
 * module (the login does not open a sealed secret today; when an admin's TOTP secret
 * must be opened, KMS comes in here, for that admin only), no health module, no signing
 * pipeline, and notifications without the mail worker: a reissue's notice is queued in
 * the mail outbox as usual and the API sends it; the secure room never speaks SMTP.
 */
import { Global, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AuditSinkModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { FirmDirectory } from '../auth/firm-directory';
import { AwsKms } from '../kms/aws-kms';
import { DataKeyCache } from '../kms/data-key-cache';
import { Envelope } from '../kms/envelope';
import { KeyManagement } from '../kms/key-management';
import { LocalKeyring, localKeyringDir } from '../kms/local-keyring';
import { StaffRepository } from '../operators/staff.repository';
import { pinoParams } from '../common/logging';
import { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { DatabaseModule } from '../database/database.module';
import { Metrics } from '../common/metrics';
import { JobsModule } from '../jobs/jobs.module';
import { MediaModule } from '../media/media.module';
import { MailRepository } from '../notifications/mail.repository';
import { NotificationsRepository } from '../notifications/notifications.repository';
import { NotificationsService } from '../notifications/notifications.service';
import { UsersModule } from '../users/users.module';
import { WalletIssueCommand } from './commands/wallet-issue.command';

/** The process metrics registry some services count into; never served from the secure room. */
@Global()
@Module({ providers: [Metrics], exports: [Metrics] })
class SecureRoomMetricsModule {}

/**
 * Envelope for the login of an admin with TOTP (its secret is sealed): the KMS client is built
 * here without any call — KMS is contacted only when such an admin logs in.
 */
@Global()
@Module({
  providers: [
    {
      provide: KeyManagement,
      inject: [AppConfig],
      useFactory: (c: AppConfig): KeyManagement =>
        c.kms.provider === 'local' ? new LocalKeyring(localKeyringDir(c.dataDir)) : new AwsKms(c),
    },
    DataKeyCache,
    Envelope,
  ],
  exports: [KeyManagement, Envelope],
})
class SecureRoomKmsModule {}

/** Staff state for the login, read from the database. */
@Global()
@Module({ providers: [{ provide: FirmDirectory, useClass: StaffRepository }], exports: [FirmDirectory] })
class SecureRoomFirmsModule {}

/** Notifications are stored (and mail queued) as in the API, but no MailWorker exists here to send it. */
@Global()
@Module({ providers: [NotificationsService, NotificationsRepository, MailRepository], exports: [NotificationsService] })
class SecureRoomNotificationsModule {}

@Module({
  imports: [
    ConfigModule,
    DatabaseModule,
    SecureRoomMetricsModule,
    AuditSinkModule,
    SecureRoomKmsModule,
    SecureRoomFirmsModule,
    AuthModule,
    SecureRoomNotificationsModule,
    JobsModule.enqueueOnly(),
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
