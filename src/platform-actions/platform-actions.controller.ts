import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/api-problems';
import { PageQuery, type Page } from '../common/pagination';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { CurrentPrincipal, RequestId, Roles, type Principal } from '../common/principal';
import { ApproveActionDto, PlatformActionDto, PlatformActionPageDto, RejectActionDto } from './dto/platform-action.dto';
import { PlatformActions, type PlatformActionView } from './platform-actions.service';

@ApiTags('governance')
@ApiBearerAuth()
@Controller('v1/platform-actions')
export class PlatformActionsController {
  constructor(private readonly actions: PlatformActions) {}

  @Get()
  @Roles('admin')
  @ApiOperation({ summary: 'Platform actions (rotations, emergency unpause, issuer grants, lowering the floor), newest first' })
  @ApiOkResponse({ type: PlatformActionPageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN')
  list(@Query() q: PageQuery): Promise<Page<PlatformActionView>> {
    return this.actions.list(q);
  }

  @Get(':id')
  @Roles('admin')
  @ApiOperation({ summary: 'One platform action' })
  @ApiOkResponse({ type: PlatformActionDto })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  get(@Param('id', ParseIdPipe) id: string): Promise<PlatformActionView> {
    return this.actions.get(id);
  }

  @Post(':id/approve')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Approve (another admin than the requester): the action runs now' })
  @ApiOkResponse({ type: PlatformActionDto })
  @ApiProblems(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'MFA_REQUIRED',
    'FORBIDDEN',
    'SELF_APPROVAL',
    'MFA_NOT_ENABLED',
    'NOT_FOUND',
    'NOT_PENDING',
  )
  approve(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: ApproveActionDto,
    @CurrentPrincipal() p: Principal,
    @RequestId() rid?: string,
  ): Promise<PlatformActionView> {
    return this.actions.approve(id, p, body.otp, rid);
  }

  @Post(':id/reject')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Reject (another admin than the requester)' })
  @ApiOkResponse({ type: PlatformActionDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'SELF_APPROVAL', 'NOT_FOUND', 'NOT_PENDING')
  reject(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: RejectActionDto,
    @CurrentPrincipal() p: Principal,
    @RequestId() rid?: string,
  ): Promise<PlatformActionView> {
    return this.actions.reject(id, p, body.reason, rid);
  }
}
