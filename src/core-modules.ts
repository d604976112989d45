/**
 * The modules both the API and the secure-room CLI run. The API adds the signing
 * pipeline (transactions, tokens); the CLI never runs a signing worker.
 */
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { CommonModule } from './common/common.module';
import { ChainModule } from './chain/chain.module';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { IssuersModule } from './issuers/issuers.module';
import { KmsModule } from './kms/kms.module';
import { NotificationsModule } from './notifications/notifications.module';
import { OperatorsModule } from './operators/operators.module';
import { UsersModule } from './users/users.module';

export const CORE_MODULES = [
  ConfigModule,
  CommonModule,
  DatabaseModule,
  AuditModule,
  KmsModule,
  ChainModule,
  HealthModule,
  AuthModule,
  OperatorsModule,
  NotificationsModule,
  UsersModule,
  IssuersModule,
];
