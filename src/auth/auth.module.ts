import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';
import { AuthController } from './auth.controller';
import { AuthRepository } from './auth.repository';
import { AuthService } from './auth.service';
import { ApiKeyAuthGuard, AuthenticationGuard, JwtAuthGuard, LocalAuthGuard, RateLimitGuard, RolesGuard } from './guards';
import { Passwords } from './passwords';
import { RateLimitRepository } from './rate-limit.repository';
import { RateLimiter } from './rate-limiter';
import { ApiKeyStrategy } from './strategies/api-key.strategy';
import { JwtStrategy } from './strategies/jwt.strategy';
import { LocalStrategy } from './strategies/local.strategy';
import { Tokens } from './tokens';
import { TotpService } from './totp.service';

@Global()
@Module({
  imports: [PassportModule.register({ session: false })],
  controllers: [AuthController, ApiKeysController],
  providers: [
    AuthRepository,
    AuthService,
    ApiKeysService,
    TotpService,
    Passwords,
    Tokens,
    RateLimiter,
    RateLimitRepository,
    LocalStrategy,
    JwtStrategy,
    ApiKeyStrategy,
    JwtAuthGuard,
    ApiKeyAuthGuard,
    LocalAuthGuard,
    { provide: APP_GUARD, useClass: RateLimitGuard },
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    { provide: APP_GUARD, useClass: RolesGuard },
  ],
  exports: [AuthService, Passwords, TotpService, RateLimiter, ApiKeysService],
})
export class AuthModule {}
