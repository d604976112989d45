import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsDefined,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { IsAmount } from '../../common/amount';
import { RULE_KINDS, type RuleKind } from '../policy-rules';

export class PolicyRuleDto {
  @ApiProperty({ enum: RULE_KINDS, isArray: true, example: ['forced-transfer'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(RULE_KINDS.length)
  @IsIn(RULE_KINDS, { each: true })
  kinds!: RuleKind[];

  @ApiPropertyOptional({ example: '100', description: 'decimal string of base units; absent: any amount (and kinds without one)' })
  @IsOptional()
  @IsAmount()
  minAmount?: string;

  @ApiPropertyOptional({
    enum: ['24h'],
    description: "the amount is the firm's sum of these kinds on the token over 24 h, this one included",
  })
  @IsOptional()
  @IsIn(['24h'])
  window?: '24h';

  @ApiProperty({ minimum: 1, maximum: 5, example: 2 })
  @IsInt()
  @Min(1)
  @Max(5)
  approvals!: number;
}

export class PolicyDto {
  @ApiProperty({ type: [PolicyRuleDto] })
  @IsDefined()
  @IsArray()
  @ArrayMaxSize(50)
  @ValidateNested({ each: true })
  @Type(() => PolicyRuleDto)
  rules!: PolicyRuleDto[];
}

export class PolicyChangePendingDto {
  @ApiProperty({ format: 'uuid' }) changeId!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'null: waits for a second firm-admin' })
  effectiveAt!: string | null;
}

export class PlatformFloorPendingDto {
  @ApiProperty({ format: 'uuid', description: 'the platform action a second admin approves (POST /v1/platform-actions/{id}/approve)' })
  actionId!: string;
  @ApiProperty({ enum: ['pending_approval'] }) status!: 'pending_approval';
}

export class ApproveDto {
  @ApiPropertyOptional({ example: '123456', description: 'a fresh TOTP code (required when REQUIRE_MFA_FOR_APPROVAL is on)' })
  @IsOptional()
  @IsString()
  @MaxLength(10)
  otp?: string;

  @ApiPropertyOptional({ example: 'checked against the court order' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  comment?: string;
}

export class RejectDto {
  @ApiProperty({ example: 'the order does not name this holder' })
  @IsString()
  @MaxLength(500)
  reason!: string;
}
