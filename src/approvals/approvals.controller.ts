import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { ApiProblems } from '../common/api-problems';
import { PageQuery, type Page } from '../common/pagination';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { CurrentPrincipal, RequestId, StaffRoute, type Principal } from '../common/principal';
import { TransactionResponse } from '../transactions/dto/transaction.response';
import { ApprovalsService, type ApprovalItem, type ApprovalType } from './approvals.service';
import { ApproveDto, RejectDto } from './dto/policy.dto';

const TYPES: readonly ApprovalType[] = ['transaction', 'batch', 'order'];

class ApprovalsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: TYPES }) @IsOptional() @IsIn(TYPES) type?: ApprovalType;
}

class ApprovalItemDto {
  @ApiProperty({ enum: TYPES }) type!: ApprovalType;
  @ApiProperty({ type: TransactionResponse }) item!: TransactionResponse;
}

class ApprovalPageDto {
  @ApiProperty({ type: [ApprovalItemDto] }) items!: ApprovalItemDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

@ApiTags('approvals')
@ApiBearerAuth()
@Controller('v1')
export class ApprovalsController {
  constructor(private readonly approvals: ApprovalsService) {}

  @Get('approvals')
  @StaffRoute(['checker'])
  @ApiOperation({ summary: "What waits for the checker's firm to approve" })
  @ApiOkResponse({ type: ApprovalPageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN')
  list(@CurrentPrincipal() p: Principal, @Query() q: ApprovalsQuery): Promise<Page<ApprovalItem>> {
    return this.approvals.list(p, q);
  }

  @Post('transactions/:id/approve')
  @HttpCode(200)
  @StaffRoute(['checker'])
  @ApiOperation({ summary: 'Approve a transaction pending approval; the last approval re-runs its pre-checks and queues it' })
  @ApiOkResponse({ type: TransactionResponse, description: 'still pending, queued, or failed with the pre-check code' })
  @ApiProblems(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'MFA_REQUIRED',
    'FORBIDDEN',
    'SELF_APPROVAL',
    'MFA_NOT_ENABLED',
    'NOT_FOUND',
    'NOT_PENDING',
    'ALREADY_APPROVED',
    'CHAIN_UNAVAILABLE',
  )
  approve(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: ApproveDto,
    @CurrentPrincipal() p: Principal,
    @RequestId() rid?: string,
  ): Promise<TransactionResponse> {
    return this.approvals.approve(p, id, body, rid);
  }

  @Post('transactions/:id/reject')
  @HttpCode(200)
  @StaffRoute(['checker'])
  @ApiOperation({ summary: 'Reject a transaction pending approval' })
  @ApiOkResponse({ type: TransactionResponse })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'NOT_PENDING')
  reject(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: RejectDto,
    @CurrentPrincipal() p: Principal,
    @RequestId() rid?: string,
  ): Promise<TransactionResponse> {
    return this.approvals.reject(p, id, body.reason, rid);
  }
}
