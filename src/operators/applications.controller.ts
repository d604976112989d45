import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { RateLimiter } from '../auth/rate-limiter';
import { CurrentPrincipal, RequestId, Roles, type Principal } from '../common/principal';
import { ApiProblems } from '../common/api-problems';
import { PageQuery, type Page } from '../common/pagination';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { Public } from '../common/public.decorator';
import { AppConfig } from '../config/app-config';
import { ApplicationsService, type ApplicationView } from './applications.service';
import {
  ApplicationAcceptedDto,
  ApplicationDto,
  ApplicationPageDto,
  CreateApplicationDto,
  RejectApplicationDto,
} from './dto/application.dto';
import { OperatorDto } from './dto/operator.dto';

@ApiTags('operators')
@Controller('v1/operator-applications')
export class ApplicationsController {
  constructor(
    private readonly applications: ApplicationsService,
    private readonly limiter: RateLimiter,
    private readonly config: AppConfig,
  ) {}

  @Public()
  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: '¶0035: a firm applies with its own password (hashed at once); kagi issues the login id at approval' })
  @ApiAcceptedResponse({ type: ApplicationAcceptedDto })
  @ApiProblems('VALIDATION_FAILED', 'WEAK_PASSWORD', 'RATE_LIMITED')
  async apply(@Body() body: CreateApplicationDto, @Req() req: Request, @RequestId() rid?: string): Promise<ApplicationAcceptedDto> {
    await this.limiter.hit(`login-ip:${req.ip ?? 'unknown'}`, this.config.auth.loginRateLimitPerMinute, { exact: true });
    return this.applications.apply(body, rid);
  }

  @Get()
  @Roles('admin')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Operator applications, newest first' })
  @ApiOkResponse({ type: ApplicationPageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN')
  list(@Query() q: PageQuery): Promise<Page<ApplicationView>> {
    return this.applications.list(q);
  }

  @Post(':id/approve')
  @Roles('admin')
  @ApiBearerAuth()
  @ApiOperation({ summary: "Approve: the firm, its sealed key and first staff member, who logs in with the application's password" })
  @ApiCreatedResponse({ type: OperatorDto })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'APPLICATION_NOT_PENDING', 'KMS_UNAVAILABLE')
  approve(@Param('id', ParseIdPipe) id: string, @CurrentPrincipal() p: Principal, @RequestId() rid?: string): Promise<OperatorDto> {
    return this.applications.approve(id, p, rid);
  }

  @Post(':id/reject')
  @HttpCode(200)
  @Roles('admin')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Reject an application (its password hash is dropped)' })
  @ApiOkResponse({ type: ApplicationDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'APPLICATION_NOT_PENDING')
  reject(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: RejectApplicationDto,
    @CurrentPrincipal() p: Principal,
    @RequestId() rid?: string,
  ): Promise<ApplicationView> {
    return this.applications.reject(id, body.reason, p, rid);
  }
}
