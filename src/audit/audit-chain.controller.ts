import { Controller, Get, Header, Query, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { Readable } from 'node:stream';
import { CurrentPrincipal, Roles, type Principal } from '../common/principal';
import { ApiProblems } from '../common/api-problems';
import { PageQuery, type Page } from '../common/pagination';
import { AuditChainService, type AnchorDto } from './audit-chain.service';
import type { VerifyReport } from './audit-verifier';

export class ExportQuery {
  @ApiPropertyOptional({ description: "the chain: a firm's id or `platform` (a firm: its own, the default; an admin: default `platform`)" })
  @IsOptional()
  @Matches(/^(platform|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i, { message: 'chain must be a firm id or platform' })
  chain?: string;

  @ApiPropertyOptional({ minimum: 1, default: 1, description: 'first seq to export' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  fromSeq?: number;
}

class ChainProblemDto {
  @ApiProperty() seq!: number;
  @ApiProperty({ enum: ['hash-mismatch', 'prev-hash-mismatch', 'event-missing', 'seq-missing', 'anchor-mismatch', 'anchor-forged'] })
  reason!: string;
  @ApiPropertyOptional() anchorId?: string;
}

class ChainReportDto {
  @ApiProperty({ example: 'platform' }) chain!: string;
  @ApiProperty({ example: 1520 }) events!: number;
  @ApiProperty({ example: '3f1c…' }) headHash!: string;
  @ApiProperty({ type: Number, nullable: true, description: 'the first seq that no longer verifies' }) firstBrokenSeq!: number | null;
  @ApiProperty({ type: Number, nullable: true }) lastAnchoredSeq!: number | null;
  @ApiProperty({ type: [ChainProblemDto] }) problems!: ChainProblemDto[];
}

class VerifyDto {
  @ApiProperty() ok!: boolean;
  @ApiProperty({ type: [ChainReportDto] }) chains!: ChainReportDto[];
}

class HeadDto {
  @ApiProperty() chain!: string;
  @ApiProperty() seq!: number;
  @ApiProperty() hash!: string;
}

class AnchorItemDto {
  @ApiProperty() id!: string;
  @ApiProperty({ type: [HeadDto], description: "every chain's head (a firm sees only its own chain's)" }) heads!: HeadDto[];
  @ApiProperty({ description: 'hex SHA-256 over the sorted `chain:seq:hash` lines joined by "\\n"' }) digest!: string;
  @ApiProperty() txHash!: string;
  @ApiProperty() blockNumber!: number;
  @ApiProperty({ description: 'the anchor key address (sender and recipient)' }) from!: string;
  @ApiProperty({ example: '2026-11-24T09:00:00.000Z' }) at!: string;
}

class AnchorPageDto {
  @ApiProperty({ type: [AnchorItemDto] }) items!: AnchorItemDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

@ApiTags('platform')
@ApiBearerAuth()
@Controller('v1/audit-events')
export class AuditChainController {
  constructor(private readonly chains: AuditChainService) {}

  @Get('verify')
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'Verify the hash chains and their on-chain anchors (admins: every chain; a firm: its own)' })
  @ApiOkResponse({ type: VerifyDto })
  @ApiProblems('UNAUTHENTICATED', 'CHAIN_UNAVAILABLE')
  verify(@CurrentPrincipal() p: Principal): Promise<VerifyReport> {
    return this.chains.verify(p);
  }

  @Get('export')
  @Roles('admin', 'operator')
  @Header('content-type', 'application/x-ndjson')
  @ApiOperation({
    summary: 'Export a chain as NDJSON: one event a line with seq, prevHash and hash, then one {"anchor": …} line per anchor of the range',
  })
  @ApiProduces('application/x-ndjson')
  @ApiOkResponse({ description: 'NDJSON, streamed', schema: { type: 'string' } })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'NOT_FOUND')
  export(@CurrentPrincipal() p: Principal, @Query() q: ExportQuery): StreamableFile {
    const chain = this.chains.chainFor(p, q.chain);
    return new StreamableFile(Readable.from(this.chains.exportLines(p, chain, q.fromSeq ?? 1)), { type: 'application/x-ndjson' });
  }

  @Get('anchors')
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'On-chain anchors of the chain heads, newest first' })
  @ApiOkResponse({ type: AnchorPageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED')
  anchors(@CurrentPrincipal() p: Principal, @Query() q: PageQuery): Promise<Page<AnchorDto>> {
    return this.chains.anchors(p, q);
  }
}
