import { Body, Controller, Get, Param, Put, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiProblems } from '../common/api-problems';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { CurrentPrincipal, RequestId, Roles, StaffRoute, type Principal } from '../common/principal';
import { PlatformFloorPendingDto, PolicyChangePendingDto, PolicyDto } from './dto/policy.dto';
import { PoliciesService } from './policies.service';
import type { Policy } from './policy-rules';

@ApiTags('approvals')
@ApiBearerAuth()
@Controller('v1')
export class PoliciesController {
  constructor(private readonly policies: PoliciesService) {}

  @Get('operators/:id/policy')
  @StaffRoute(['firm-admin', 'maker', 'checker', 'viewer'], { admin: true })
  @ApiOperation({ summary: "A firm's approval policy (its staff, admins)" })
  @ApiOkResponse({ type: PolicyDto })
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND')
  getFirm(@Param('id', ParseIdPipe) id: string, @CurrentPrincipal() p: Principal): Promise<Policy> {
    return this.policies.getFirm(p, id);
  }

  @Put('operators/:id/policy')
  @StaffRoute(['firm-admin'])
  @ApiOperation({ summary: "Set the firm's approval policy: raising applies at once, lowering is a control change (202)" })
  @ApiOkResponse({ type: PolicyDto })
  @ApiAcceptedResponse({ type: PolicyChangePendingDto, description: 'Lowering waits for a second firm-admin or the delay' })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  async putFirm(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: PolicyDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @RequestId() rid?: string,
  ): Promise<Policy | { changeId: string; effectiveAt: string | null }> {
    const out = await this.policies.putFirm(p, id, body, rid);
    if ('changeId' in out) {
      res.status(202);
      return out;
    }
    res.status(200);
    return out.policy;
  }

  @Get('platform/policy')
  @Roles('admin')
  @ApiOperation({ summary: 'The platform floor: rules every firm is held to, whatever its own policy' })
  @ApiOkResponse({ type: PolicyDto })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN')
  getPlatform(): Promise<Policy> {
    return this.policies.getPlatform();
  }

  @Put('platform/policy')
  @Roles('admin')
  @ApiOperation({ summary: 'Set the platform floor (raising applies at once; lowering waits for a second admin)' })
  @ApiOkResponse({ type: PolicyDto })
  @ApiAcceptedResponse({ type: PlatformFloorPendingDto, description: 'Lowering waits for a second admin (PLATFORM_FOUR_EYES)' })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN')
  async putPlatform(
    @Body() body: PolicyDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @RequestId() rid?: string,
  ): Promise<Policy | PlatformFloorPendingDto> {
    const out = await this.policies.putPlatform(p, body, rid);
    if ('actionId' in out) res.status(202);
    return out;
  }
}
