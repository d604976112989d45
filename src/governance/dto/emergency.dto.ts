import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsOptional, ValidateNested } from 'class-validator';
import { LegalBasisDto } from '../../approvals/dto/legal-basis.dto';

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
