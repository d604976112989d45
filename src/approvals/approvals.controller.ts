import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { ApiProblems } from '../common/api-problems';
import { PageQuery, type Page } from '../common/pagination';
import { CurrentPrincipal, StaffRoute, type Principal } from '../common/principal';
import { TransactionResponse } from '../transactions/dto/transaction.response';
import { ApprovalsService, type ApprovalItem, type ApprovalType } from './approvals.service';
import { ApprovalRoutes } from './approval-routes';

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
export class ApprovalsController extends ApprovalRoutes({
  path: 'transactions',
  type: TransactionResponse,
  approve: {
    summary: 'Approve a transaction pending approval; the last approval re-runs its pre-checks and queues it',
    description: 'still pending, queued, or failed with the pre-check code',
  },
  reject: { summary: 'Reject a transaction pending approval' },
}) {
  constructor(private readonly approvals: ApprovalsService) {
    super();
  }

  protected get decider(): ApprovalsService {
    return this.approvals;
  }

  @Get('approvals')
  @StaffRoute(['checker'])
  @ApiOperation({ summary: "What waits for the checker's firm to approve" })
  @ApiOkResponse({ type: ApprovalPageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN')
  list(@CurrentPrincipal() p: Principal, @Query() q: ApprovalsQuery): Promise<Page<ApprovalItem>> {
    return this.approvals.list(p, q);
  }
}
