import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { Allow, ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsIn, IsObject, IsOptional, ValidateNested } from 'class-validator';
import { PageQuery } from '../../common/pagination';
import type { BatchKind, BatchStatus } from '../entities/batch.entity';

const BATCH_KINDS: readonly BatchKind[] = ['issue', 'redeem', 'transfer', 'forced-transfer', 'freeze', 'unfreeze'];
const BATCH_STATUSES: readonly BatchStatus[] = ['pending_approval', 'running', 'completed', 'partially_failed', 'rejected', 'expired'];

class LegalBasisDto {
  @ApiProperty({ enum: ['court-order', 'garnishment', 'inheritance', 'lost-key', 'sanctions', 'error-correction', 'regulatory', 'other'] })
  code!: string;
  @ApiPropertyOptional({ example: '東京地裁 令和8年(ヲ)第123号' }) reference?: string;
  @ApiPropertyOptional({ description: 'required with code other' }) note?: string;
}

/**
 * One row. Its fields are only known, not judged, here: a bad amount or an unknown user is the
 * row's problem (listed with its row number), not a 400 for the whole request.
 */
export class BatchItemDto {
  @ApiPropertyOptional({ format: 'uuid' }) @Allow() userId?: unknown;
  @ApiPropertyOptional({ example: 'C-000123' }) @Allow() externalRef?: unknown;
  @ApiPropertyOptional({ example: '1500', description: 'base units; issue, redeem, transfer, forced-transfer' }) @Allow() amount?: unknown;
  @ApiPropertyOptional({ format: 'uuid', description: 'transfer, forced-transfer' }) @Allow() toUserId?: unknown;
  @ApiPropertyOptional({ description: 'transfer, forced-transfer' }) @Allow() toExternalRef?: unknown;
  @ApiPropertyOptional({ type: LegalBasisDto, description: "this row's legal basis (else the batch's)" }) @Allow() legalBasis?: unknown;
  @ApiPropertyOptional({
    description: 'transfer: the holder instruction {reference, receivedAt}',
    example: { reference: 'REQ-2026-0042', receivedAt: '2026-11-30T09:00:00Z' },
  })
  @Allow()
  instruction?: unknown;
}

export class CreateBatchDto {
  @ApiProperty({ enum: BATCH_KINDS }) @IsIn(BATCH_KINDS) kind!: BatchKind;
  @ApiProperty({ type: [BatchItemDto], maxItems: 10_000 })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(10_000)
  @IsObject({ each: true })
  @ValidateNested({ each: true })
  @Type(() => BatchItemDto)
  items!: BatchItemDto[];
  @ApiPropertyOptional({ type: LegalBasisDto }) @IsOptional() @IsObject() legalBasis?: Record<string, unknown>;
  @ApiPropertyOptional({ default: true }) @IsOptional() @IsBoolean() atomic?: boolean;
  @ApiPropertyOptional({ default: false }) @IsOptional() @IsBoolean() dryRun?: boolean;
}

/** The query of a CSV batch (its body is the rows). */
export class BatchCsvQuery {
  @ApiPropertyOptional({ enum: BATCH_KINDS }) @IsOptional() @IsIn(BATCH_KINDS) kind?: BatchKind;
  @ApiPropertyOptional({ enum: ['true', 'false'] }) @IsOptional() @IsIn(['true', 'false']) atomic?: 'true' | 'false';
  @ApiPropertyOptional({ enum: ['true', 'false'] }) @IsOptional() @IsIn(['true', 'false']) dryRun?: 'true' | 'false';
}

export class RowProblem {
  @ApiProperty({ example: 3 }) row!: number;
  @ApiProperty({ example: 'amount' }) field!: string;
  @ApiProperty({ example: 'VALIDATION_FAILED' }) code!: string;
  @ApiProperty({ example: 'amount must be a decimal string of base units > 0' }) message!: string;
}

class BatchCounts {
  @ApiProperty() valid!: number;
  @ApiProperty() invalid!: number;
  @ApiProperty() queued!: number;
  @ApiProperty() confirmed!: number;
  @ApiProperty() failed!: number;
}

@ApiSchema({ name: 'Batch' })
export class BatchResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) tokenId!: string;
  @ApiProperty({ enum: BATCH_KINDS }) kind!: BatchKind;
  @ApiProperty({ enum: BATCH_STATUSES }) status!: BatchStatus;
  @ApiProperty() atomic!: boolean;
  @ApiProperty({ example: 1000 }) total!: number;
  @ApiProperty({ type: BatchCounts }) counts!: BatchCounts;
  @ApiPropertyOptional({ type: [RowProblem], description: 'the invalid rows' }) rows?: RowProblem[];
  @ApiPropertyOptional({ description: 'dry run: nothing was stored' }) dryRun?: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class BatchItemResponse {
  @ApiProperty() row!: number;
  @ApiProperty({ type: String, nullable: true }) userId!: string | null;
  @ApiProperty({ type: String, nullable: true }) toUserId!: string | null;
  @ApiProperty({ type: String, nullable: true }) amount!: string | null;
  @ApiProperty({ type: LegalBasisDto, nullable: true }) legalBasis!: unknown;
  @ApiProperty({ enum: ['invalid', 'pending_approval', 'queued', 'confirmed', 'failed'] }) status!: string;
  @ApiProperty({ type: String, nullable: true }) transactionId!: string | null;
  @ApiProperty({ type: RowProblem, nullable: true }) error!: unknown;
}

export class BatchItemsQuery extends PageQuery {}
