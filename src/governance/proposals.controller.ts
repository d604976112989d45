import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { Type } from 'class-transformer';
import { ApiProblems } from '../common/api-problems';
import { Roles } from '../common/principal';
import { ProposalsService, type ProposalView } from './proposals.service';

class ProposalsQuery {
  @ApiPropertyOptional({ enum: ['open', 'executed'] })
  @IsOptional()
  @IsIn(['open', 'executed'])
  status?: 'open' | 'executed';

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}

class ProposalDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid', description: 'the governance transaction (`awaiting_signature` until executed)' })
  transactionId!: string;
  @ApiProperty({ example: '0x5FbDB2315678afecb367f032d93F642f64180aa3' }) to!: string;
  @ApiProperty({ example: '0x2f2ff15d…' }) data!: string;
  @ApiProperty({ example: '0', description: 'wei, decimal string' }) value!: string;
  @ApiProperty({ example: 31337 }) chainId!: number;
  @ApiProperty() description!: string;
  @ApiProperty({ enum: ['open', 'executed'] }) status!: string;
}

class ProposalsPage {
  @ApiProperty({ type: [ProposalDto] }) items!: ProposalDto[];
}

@ApiTags('governance')
@ApiBearerAuth()
@Controller('v1/governance')
export class ProposalsController {
  constructor(private readonly proposals: ProposalsService) {}

  @Get('proposals')
  @Roles('admin')
  @ApiOperation({
    summary:
      'GOVERNANCE_SIGNER=external: the unsigned governance calls for the multisig to execute; kagi recognises each execution by its effect on chain',
  })
  @ApiOkResponse({ type: ProposalsPage })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN')
  list(@Query() q: ProposalsQuery): Promise<{ items: ProposalView[] }> {
    return this.proposals.list(q.status, q.limit ?? 100);
  }
}
