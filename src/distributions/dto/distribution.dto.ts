import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

export class CreateDistributionDto {
  @ApiProperty({ enum: ['dividend', 'coupon'] }) @IsIn(['dividend', 'coupon']) kind!: 'dividend' | 'coupon';
  @ApiPropertyOptional({ description: 'exactly one of recordBlock and recordDate' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  recordBlock?: number;
  @ApiPropertyOptional({ example: '2026-11-30', description: 'a JST date: the last block at or before 23:59:59 JST that day' })
  @IsOptional()
  @Matches(DATE, { message: 'recordDate must be YYYY-MM-DD' })
  recordDate?: string;
  @ApiProperty({ example: '12.5', description: 'yen per whole token, at most 4 decimals' })
  @Matches(/^(0|[1-9][0-9]{0,17})(\.[0-9]{1,4})?$/, { message: 'amountPerToken must be a decimal string of yen with at most 4 decimals' })
  amountPerToken!: string;
  @ApiProperty({ example: '2026-12-15' }) @Matches(DATE, { message: 'paymentDate must be YYYY-MM-DD' }) paymentDate!: string;
}

class TotalsDto {
  @ApiProperty({ example: '1000000' }) units!: string;
  @ApiProperty({ example: '12500000' }) gross!: string;
  @ApiProperty() incomeTax!: string;
  @ApiProperty() residentTax!: string;
  @ApiProperty() withholding!: string;
  @ApiProperty() net!: string;
  @ApiProperty() holders!: number;
}

@ApiSchema({ name: 'Distribution' })
export class DistributionResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) tokenId!: string;
  @ApiProperty({ enum: ['dividend', 'coupon'] }) kind!: 'dividend' | 'coupon';
  @ApiProperty({ example: 1234 }) recordBlock!: number;
  @ApiPropertyOptional({ type: String, nullable: true, example: '2026-11-30' }) recordDate!: string | null;
  @ApiProperty({ example: '12.5' }) amountPerToken!: string;
  @ApiProperty({ example: '2026-12-15' }) paymentDate!: string;
  @ApiProperty({ type: TotalsDto }) totals!: TotalsDto;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}
