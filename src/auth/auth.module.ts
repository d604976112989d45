import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { AuthGuard, RateLimitGuard, RolesGuard } from './guards';
import { Passwords } from './passwords';
import { RateLimiter } from './rate-limiter';
import { Tokens } from './tokens';

@Global()
@Module({
  controllers: [AuthController],
  providers: [
    AuthService,
    Passwords,
    Tokens,
    RateLimiter,
    { provide: APP_GUARD, useClass: RateLimitGuard },
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_GUARD, useClass: RolesGuard },
  ],
  exports: [AuthService, Passwords],
})
export class AuthModule {}
