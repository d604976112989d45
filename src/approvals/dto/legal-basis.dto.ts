/**
 * The legal basis of coercive operations and the operation bodies that carry it (forced
 * transfer, freeze, unfreeze, recover), used by the token operation catalogue.
 */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsOptional, IsString, IsUUID, MaxLength, MinLength, ValidateIf, ValidateNested } from 'class-validator';
import { IsAmount } from '../../common/amount';
import { LEGAL_BASIS_CODES, type LegalBasisCode } from '../../transactions/entities/transaction.entity';

export class LegalBasisDto {
  @ApiProperty({ enum: LEGAL_BASIS_CODES, example: 'court-order' })
  @IsIn(LEGAL_BASIS_CODES)
  code!: LegalBasisCode;

  @ApiPropertyOptional({ example: '東京地裁 令和8年(ヨ)第123号', description: 'document reference (court order, case number)' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  reference?: string;

  @ApiPropertyOptional({ example: 'seizure ordered on 2026-11-30', description: 'required with code other' })
  @ValidateIf((o: LegalBasisDto) => o.code === 'other' || o.note !== undefined)
  @IsString({ message: 'note is required with code other' })
  @MinLength(1)
  @MaxLength(500)
  note?: string;
}

export class ForcedTransferBody {
  @ApiProperty() @IsUUID() fromUserId!: string;
  @ApiProperty() @IsUUID() toUserId!: string;
  @ApiProperty({ example: '100' }) @IsAmount() amount!: string;

  @ApiPropertyOptional({ type: LegalBasisDto, description: 'required (or v1 `reason`, read as {code: "other", note: reason})' })
  @IsOptional()
  @ValidateNested()
  @Type(() => LegalBasisDto)
  legalBasis?: LegalBasisDto;

  @ApiPropertyOptional({
    example: 'inheritance (相続)',
    deprecated: true,
    description: 'v1: read as legalBasis {code: "other", note: reason}',
  })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  reason?: string;
}

export class UserLegalBasisBody {
  @ApiProperty() @IsUUID() userId!: string;

  @ApiPropertyOptional({ type: LegalBasisDto, description: 'freeze and recover: required when REQUIRE_LEGAL_BASIS=true' })
  @IsOptional()
  @ValidateNested()
  @Type(() => LegalBasisDto)
  legalBasis?: LegalBasisDto;
}
