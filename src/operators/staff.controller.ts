import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { refuseIdempotencyKey } from '../auth/guards';
import { CurrentPrincipal, RequestId, StaffRoute, type Principal } from '../common/principal';
import { ApiProblems } from '../common/api-problems';
import { PageQuery, type Page } from '../common/pagination';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { ControlChangesService, type ControlChangeView } from './control-changes.service';
import {
  ControlChangeDto,
  ControlChangePageDto,
  ControlChangePendingDto,
  CreateStaffDto,
  StaffCreatedDto,
  StaffDto,
  StaffPageDto,
  UpdateStaffDto,
} from './dto/staff.dto';
import { StaffService, type StaffCreated, type StaffUpdated } from './staff.service';

@ApiTags('staff')
@ApiBearerAuth()
@Controller('v1/operators/:id')
export class StaffController {
  constructor(
    private readonly staff: StaffService,
    private readonly changes: ControlChangesService,
  ) {}

  @Get('staff')
  @StaffRoute(['firm-admin'], { admin: true })
  @ApiOperation({ summary: "List a firm's staff (its firm-admins, platform admins)" })
  @ApiOkResponse({ type: StaffPageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  list(@Param('id', ParseIdPipe) id: string, @Query() q: PageQuery, @CurrentPrincipal() p: Principal): Promise<Page<StaffDto>> {
    return this.staff.list(id, p, q);
  }

  @Post('staff')
  @StaffRoute(['firm-admin'])
  @ApiOperation({
    summary: 'Add a staff member with a one-time activation code (24 h); granting checker or firm-admin waits for a control change (202)',
  })
  @ApiCreatedResponse({ type: StaffCreatedDto })
  @ApiAcceptedResponse({
    type: StaffCreatedDto,
    description: 'The member exists; checker/firm-admin come when the control change takes effect',
  })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'LOGIN_ID_TAKEN')
  async create(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: CreateStaffDto,
    @CurrentPrincipal() p: Principal,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
    @RequestId() rid?: string,
  ): Promise<StaffCreated> {
    refuseIdempotencyKey(req, 'staff creation');
    const out = await this.staff.create(id, p, body, rid);
    res.status(out.changeId ? 202 : 201);
    return out;
  }

  @Patch('staff/:staffId')
  @StaffRoute(['firm-admin'])
  @ApiOperation({ summary: 'Change roles or suspend/resume a member; suspension revokes its tokens at once' })
  @ApiOkResponse({ type: StaffDto })
  @ApiAcceptedResponse({ type: ControlChangePendingDto, description: 'Granting checker/firm-admin waits for a control change' })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'LAST_FIRM_ADMIN')
  async update(
    @Param('id', ParseIdPipe) id: string,
    @Param('staffId', ParseIdPipe) staffId: string,
    @Body() body: UpdateStaffDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @RequestId() rid?: string,
  ): Promise<StaffUpdated> {
    const out = await this.staff.update(id, staffId, p, body, rid);
    res.status('changeId' in out ? 202 : 200);
    return out;
  }

  @Post('staff/:staffId/mfa-reset')
  @HttpCode(204)
  @StaffRoute(['firm-admin'])
  @ApiOperation({ summary: "Reset a member's TOTP (audited; the firm is notified)" })
  @ApiNoContentResponse()
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  async resetMfa(
    @Param('id', ParseIdPipe) id: string,
    @Param('staffId', ParseIdPipe) staffId: string,
    @CurrentPrincipal() p: Principal,
    @RequestId() rid?: string,
  ): Promise<void> {
    await this.staff.resetMfa(id, staffId, p, rid);
  }

  @Get('control-changes')
  @StaffRoute(['firm-admin'], { admin: true })
  @ApiOperation({ summary: "A firm's control changes, newest first" })
  @ApiOkResponse({ type: ControlChangePageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  listChanges(
    @Param('id', ParseIdPipe) id: string,
    @Query() q: PageQuery,
    @CurrentPrincipal() p: Principal,
  ): Promise<Page<ControlChangeView>> {
    return this.changes.list(id, p, q);
  }

  @Post('control-changes/:changeId/approve')
  @HttpCode(200)
  @StaffRoute(['firm-admin'])
  @ApiOperation({ summary: 'A second active firm-admin approves a control change: it takes effect at once' })
  @ApiOkResponse({ type: ControlChangeDto })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'NOT_PENDING')
  approve(
    @Param('id', ParseIdPipe) id: string,
    @Param('changeId', ParseIdPipe) changeId: string,
    @CurrentPrincipal() p: Principal,
    @RequestId() rid?: string,
  ): Promise<ControlChangeView> {
    return this.changes.approve(id, changeId, p, rid);
  }
}
