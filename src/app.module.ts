import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { ChainModule } from './chain/chain.module';
import { pinoParams } from './common/logging';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { KmsModule } from './kms/kms.module';
import { NotificationsModule } from './notifications/notifications.module';
import { OperatorsModule } from './operators/operators.module';
import { UsersModule } from './users/users.module';
import { IssuersModule } from './issuers/issuers.module';
import { TokensModule } from './tokens/tokens.module';
import { TransactionsModule } from './transactions/transactions.module';

@Module({
  imports: [
    ConfigModule,
    LoggerModule.forRootAsync({ inject: [AppConfig], useFactory: (config: AppConfig) => pinoParams(config.logLevel) }),
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
    TransactionsModule,
    TokensModule,
  ],
})
export class AppModule {}
