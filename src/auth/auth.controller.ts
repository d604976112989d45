import { Body, Controller, Delete, Get, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ApiProblems } from '../common/api-problems';
import { Public } from '../common/public.decorator';
import { AppConfig } from '../config/app-config';
import { AuthService, type LoginResult, type MeResult } from './auth.service';
import {
  ActivateDto,
  ChangePasswordDto,
  LoginDto,
  LoginResponseDto,
  MeDto,
  TotpConfirmDto,
  TotpDisableDto,
  TotpEnrolDto,
  TotpEnrolResponseDto,
} from './dto/auth.dto';
import { LocalAuthGuard, refuseIdempotencyKey } from './guards';
import { CurrentPrincipal, FirmRoles, RequestId, Roles, type Principal } from '../common/principal';
import { RateLimiter } from './rate-limiter';
import { TotpService } from './totp.service';

@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly totp: TotpService,
    private readonly limiter: RateLimiter,
    private readonly config: AppConfig,
  ) {}

  @Public()
  @UseGuards(LocalAuthGuard)
  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Log in with loginId, password and (with TOTP on) otp; returns a bearer access token' })
  @ApiOkResponse({ type: LoginResponseDto })
  @ApiProblems('VALIDATION_FAILED', 'INVALID_CREDENTIALS', 'MFA_REQUIRED', 'ACCOUNT_SUSPENDED', 'ACCOUNT_LOCKED', 'RATE_LIMITED')
  login(@Body() _body: LoginDto, @CurrentPrincipal() p: Principal, @RequestId() requestId?: string): Promise<LoginResult> {
    return this.auth.issue(p, requestId);
  }

  @Public()
  @Post('activate')
  @HttpCode(200)
  @ApiOperation({ summary: 'Set the first password with a one-time activation code (24 h); answers like a login' })
  @ApiOkResponse({ type: LoginResponseDto })
  @ApiProblems('VALIDATION_FAILED', 'INVALID_CREDENTIALS', 'WEAK_PASSWORD', 'ACCOUNT_SUSPENDED', 'ACCOUNT_LOCKED', 'RATE_LIMITED')
  async activate(@Body() body: ActivateDto, @Req() req: Request, @RequestId() requestId?: string): Promise<LoginResult> {
    refuseIdempotencyKey(req, 'activation');
    await this.limiter.hit(`login-ip:${req.ip ?? 'unknown'}`, this.config.auth.loginRateLimitPerMinute, { exact: true });
    return this.auth.activate(body.loginId, body.activationCode, body.newPassword, requestId);
  }

  @Get('me')
  @Roles('admin', 'operator')
  @FirmRoles('any')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Who am I (staff, admins and API keys)' })
  @ApiOkResponse({ type: MeDto })
  @ApiProblems('UNAUTHENTICATED', 'ACCOUNT_SUSPENDED')
  me(@CurrentPrincipal() p: Principal): Promise<MeResult> {
    return this.auth.me(p);
  }

  @Post('password')
  @HttpCode(204)
  @Roles('admin', 'operator')
  @FirmRoles('any')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Change my password; every other token of mine is revoked at once (this one stays valid)' })
  @ApiNoContentResponse()
  @ApiProblems('VALIDATION_FAILED', 'INVALID_CREDENTIALS', 'UNAUTHENTICATED', 'FORBIDDEN', 'WEAK_PASSWORD')
  async changePassword(@CurrentPrincipal() p: Principal, @Body() body: ChangePasswordDto, @RequestId() requestId?: string): Promise<void> {
    await this.auth.changePassword(p, body.currentPassword, body.newPassword, requestId);
  }

  @Post('mfa/totp')
  @Roles('admin', 'operator')
  @FirmRoles('any')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Enrol TOTP (RFC 6238, SHA-1, 6 digits, 30 s); not active until confirmed. Re-enrolling needs a current otp' })
  @ApiCreatedResponse({ type: TotpEnrolResponseDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'MFA_REQUIRED', 'INVALID_CREDENTIALS', 'KMS_UNAVAILABLE')
  enrol(
    @CurrentPrincipal() p: Principal,
    @Body() body: TotpEnrolDto,
    @Req() req: Request,
    @RequestId() requestId?: string,
  ): Promise<TotpEnrolResponseDto> {
    refuseIdempotencyKey(req, 'TOTP enrolment');
    return this.totp.enrol(p, body.otp, requestId);
  }

  @Post('mfa/totp/confirm')
  @HttpCode(204)
  @Roles('admin', 'operator')
  @FirmRoles('any')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Confirm the enrolled secret with a current code: TOTP on' })
  @ApiNoContentResponse()
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'KMS_UNAVAILABLE')
  async confirm(@CurrentPrincipal() p: Principal, @Body() body: TotpConfirmDto, @RequestId() requestId?: string): Promise<void> {
    await this.totp.confirm(p, body.code, requestId);
  }

  @Delete('mfa/totp')
  @HttpCode(204)
  @Roles('admin', 'operator')
  @FirmRoles('any')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Turn TOTP off with a current code (refused where MFA is required)' })
  @ApiNoContentResponse()
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'INVALID_CREDENTIALS', 'KMS_UNAVAILABLE')
  async disable(@CurrentPrincipal() p: Principal, @Body() body: TotpDisableDto, @RequestId() requestId?: string): Promise<void> {
    await this.totp.disable(p, body.otp, requestId);
  }
}
