import { Body, Controller, Get, Headers, HttpCode, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ApiProblems } from '../common/api-problems';
import { ValidationError } from '../common/app-error';
import { Public } from '../common/public.decorator';
import { AppConfig } from '../config/app-config';
import { AuthService } from './auth.service';
import { ChangePasswordDto, LoginDto, LoginResponseDto, MeDto } from './dto/auth.dto';
import { CurrentPrincipal, RequestId, Roles, type Principal } from './principal';
import { RateLimiter } from './rate-limiter';

@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly limiter: RateLimiter,
    private readonly config: AppConfig,
  ) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Log in with loginId and password; returns a bearer access token' })
  @ApiOkResponse({ type: LoginResponseDto })
  @ApiProblems('VALIDATION_FAILED', 'INVALID_CREDENTIALS', 'ACCOUNT_SUSPENDED', 'ACCOUNT_LOCKED', 'RATE_LIMITED')
  async login(
    @Body() body: LoginDto,
    @Req() req: Request,
    @Headers('idempotency-key') idem: string | undefined,
    @RequestId() requestId?: string,
  ): Promise<LoginResponseDto> {
    if (idem !== undefined)
      throw new ValidationError([{ field: 'Idempotency-Key', message: 'login does not take an Idempotency-Key header' }]);
    await this.limiter.hit(`login-ip:${req.ip ?? 'unknown'}`, this.config.auth.loginRateLimitPerMinute, { exact: true });
    return this.auth.login(body.loginId, body.password, requestId);
  }

  @Get('me')
  @Roles('admin', 'operator')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Who am I' })
  @ApiOkResponse({ type: MeDto })
  @ApiProblems('UNAUTHENTICATED', 'ACCOUNT_SUSPENDED')
  me(@CurrentPrincipal() p: Principal): Promise<MeDto> {
    return this.auth.me(p);
  }

  @Post('password')
  @HttpCode(204)
  @Roles('admin', 'operator')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Change my password; every other token of mine is revoked at once (this one stays valid)' })
  @ApiNoContentResponse()
  @ApiProblems('VALIDATION_FAILED', 'INVALID_CREDENTIALS', 'UNAUTHENTICATED', 'WEAK_PASSWORD')
  async changePassword(@CurrentPrincipal() p: Principal, @Body() body: ChangePasswordDto, @RequestId() requestId?: string): Promise<void> {
    await this.auth.changePassword(p, body.currentPassword, body.newPassword, requestId);
  }
}
