import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsIn, IsOptional, IsString, MaxLength, MinLength, ValidateIf, ValidateNested } from 'class-validator';

export const LEGAL_BASIS_CODES = [
  'court-order',
  'garnishment',
  'inheritance',
  'lost-key',
  'sanctions',
  'error-correction',
  'regulatory',
  'other',
] as const;

export class LegalBasisDto {
  @ApiProperty({ enum: LEGAL_BASIS_CODES, example: 'regulatory' })
  @IsIn(LEGAL_BASIS_CODES)
  code!: (typeof LEGAL_BASIS_CODES)[number];

  @ApiPropertyOptional({ example: 'FSA order 2026-123', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  reference?: string;

  @ApiPropertyOptional({ example: 'Signing key suspected compromised', maxLength: 1000, description: 'Required with code `other`' })
  @ValidateIf((o: LegalBasisDto) => o.code === 'other' || o.note !== undefined)
  @IsString()
  @MinLength(1)
  @MaxLength(1000)
  note?: string;
}

export class EmergencyDto {
  @ApiProperty({ type: LegalBasisDto })
  @IsDefined()
  @ValidateNested()
  @Type(() => LegalBasisDto)
  legalBasis!: LegalBasisDto;
}

export class OptionalLegalBasisDto {
  @ApiPropertyOptional({ type: LegalBasisDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => LegalBasisDto)
  legalBasis?: LegalBasisDto;
}
