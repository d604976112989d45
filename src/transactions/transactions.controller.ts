import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsDateString, IsIn, IsOptional, IsUUID } from 'class-validator';
import { CurrentPrincipal, RequestId, Roles, type Principal } from '../common/principal';
import { ApiProblems } from '../common/api-problems';
import { PageQuery, type Page } from '../common/pagination';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { LEGAL_BASIS_CODES, type LegalBasisCode, type TxKind, type TxStatus } from './entities/transaction.entity';
import { TransactionResponse, TX_STATUSES } from './dto/transaction.response';
import { TransactionsService } from './transactions.service';

const KINDS = [
  'deploy',
  'issue',
  'transfer',
  'forced-transfer',
  'deposit',
  'withdraw',
  'redeem',
  'freeze',
  'unfreeze',
  'pause',
  'unpause',
  'recover',
  'custody-migration',
  'batch-issue',
  'batch-redeem',
  'batch-forced-transfer',
  'batch-freeze',
  'batch-unfreeze',
  'grant-agent',
  'revoke-agent',
  'governance-pause',
  'governance-unpause',
  'audit-anchor',
] as const;

class TxQuery extends PageQuery {
  @ApiPropertyOptional() @IsOptional() @IsUUID() tokenId?: string;
  @ApiPropertyOptional() @IsOptional() @IsUUID() userId?: string;
  @ApiPropertyOptional({ enum: TX_STATUSES }) @IsOptional() @IsIn(TX_STATUSES) status?: TxStatus;
  @ApiPropertyOptional({ enum: KINDS }) @IsOptional() @IsIn(KINDS) kind?: TxKind;
  @ApiPropertyOptional({ example: '2026-11-01T00:00:00Z' }) @IsOptional() @IsDateString({ strict: true }) from?: string;
  @ApiPropertyOptional({ example: '2026-12-01T00:00:00Z' }) @IsOptional() @IsDateString({ strict: true }) to?: string;
  @ApiPropertyOptional({ enum: LEGAL_BASIS_CODES }) @IsOptional() @IsIn(LEGAL_BASIS_CODES) legalBasisCode?: LegalBasisCode;
  @ApiPropertyOptional() @IsOptional() @IsUUID() batchId?: string;
}

@ApiTags('transactions')
@ApiBearerAuth()
@Controller('v1/transactions')
export class TransactionsController {
  constructor(private readonly transactions: TransactionsService) {}

  @Get()
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'List transactions (an operator: those it requested)' })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED')
  list(@CurrentPrincipal() p: Principal, @Query() q: TxQuery): Promise<Page<TransactionResponse>> {
    return this.transactions.list(p, q);
  }

  @Get(':id')
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'Read a transaction' })
  @ApiOkResponse({ type: TransactionResponse })
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND')
  get(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string): Promise<TransactionResponse> {
    return this.transactions.get(p, id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'Cancel a transaction that is still pending approval or queued' })
  @ApiOkResponse({ type: TransactionResponse })
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND', 'NOT_CANCELLABLE')
  cancel(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string, @RequestId() rid?: string): Promise<TransactionResponse> {
    return this.transactions.cancel(p, id, rid);
  }
}
