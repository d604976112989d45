import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsDateString,
  IsDefined,
  IsInt,
  ValidateNested,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { IsAmount } from '../../common/amount';

export class CreateTokenDto {
  @ApiProperty({ example: 'Minato Real Estate Bond 2030' })
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name!: string;

  @ApiProperty({ example: 'MREB30' })
  @Matches(/^[A-Z0-9]{1,16}$/, { message: 'symbol must be 1 to 16 upper-case letters or digits' })
  symbol!: string;

  @ApiProperty({ example: 0, minimum: 0, maximum: 18 })
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(18)
  decimals!: number;

  @ApiPropertyOptional({ description: 'sign with this issuer key (the operator must be granted it)' })
  @IsOptional()
  @IsUUID()
  issuerId?: string;

  @ApiPropertyOptional({
    default: false,
    description:
      'holders may transfer their own tokens between registered wallets; fixed at deployment (off: every movement is an agent action)',
  })
  @IsOptional()
  @IsBoolean()
  holderTransfers?: boolean;
}

export class UserAmountDto {
  @ApiProperty({ example: '5f7c2a55-0a7d-4b57-9d1e-7c9b7b5b0b11' })
  @IsUUID()
  userId!: string;

  @ApiProperty({ example: '1500', description: 'decimal string of base units' })
  @IsAmount()
  amount!: string;
}

export class RedeemDto extends UserAmountDto {
  @ApiPropertyOptional({ example: 'bond matured' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reason?: string;
}

/** The investor's instruction behind a 譲渡 (transfer) the firm executes for them. */
export class TransferInstructionDto {
  @ApiProperty({ example: 'ORD-2026-0001', description: "the firm's reference of the investor's instruction" })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  reference!: string;

  @ApiProperty({ example: '2026-12-01T09:30:00Z', description: 'when the firm received the instruction' })
  @IsDateString({ strict: true })
  receivedAt!: string;
}

export class TransferDto {
  @ApiProperty() @IsUUID() fromUserId!: string;
  @ApiProperty() @IsUUID() toUserId!: string;
  @ApiProperty({ example: '100' }) @IsAmount() amount!: string;
  @ApiProperty({ type: TransferInstructionDto })
  @IsDefined()
  @ValidateNested()
  @Type(() => TransferInstructionDto)
  instruction!: TransferInstructionDto;
}

export class EmptyDto {}
