import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsEmail, IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { FIRM_ROLES, type FirmRole } from '../../common/principal';

export class CreateStaffDto {
  @ApiProperty({ example: 'sakura-taro' })
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$/, { message: 'loginId must be 3 to 64 characters: letters, digits, . _ @ -' })
  loginId!: string;

  @ApiProperty({ example: '桜 太郎', maxLength: 200 })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;

  @ApiProperty({ example: 'taro@sakura-sec.example.jp' })
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiProperty({ enum: FIRM_ROLES, isArray: true, example: ['maker', 'viewer'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(4)
  @IsIn(FIRM_ROLES, { each: true, message: 'roles must be firm-admin, maker, checker or viewer' })
  roles!: FirmRole[];
}

export class UpdateStaffDto {
  @ApiPropertyOptional({ enum: FIRM_ROLES, isArray: true, example: ['maker', 'viewer'] })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(4)
  @IsIn(FIRM_ROLES, { each: true, message: 'roles must be firm-admin, maker, checker or viewer' })
  roles?: FirmRole[];

  @ApiPropertyOptional({ enum: ['active', 'suspended'], example: 'suspended' })
  @IsOptional()
  @IsIn(['active', 'suspended'])
  status?: 'active' | 'suspended';
}

export class StaffDto {
  @ApiProperty({ example: '2b7f3c1e-5b8e-4f2b-9a55-0d6e1b3c2a10' }) id!: string;
  @ApiProperty({ example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10' }) operatorId!: string;
  @ApiProperty({ example: 'sakura-taro' }) loginId!: string;
  @ApiProperty({ example: '桜 太郎' }) name!: string;
  @ApiProperty({ example: 'taro@sakura-sec.example.jp' }) email!: string;
  @ApiProperty({ enum: FIRM_ROLES, isArray: true, example: ['maker', 'viewer'] }) roles!: FirmRole[];
  @ApiProperty({ enum: ['active', 'suspended'], example: 'active' }) status!: 'active' | 'suspended';
  @ApiProperty({ example: false }) mfaEnabled!: boolean;
  @ApiProperty({ example: false }) mustChangePassword!: boolean;
  @ApiProperty({ example: '2026-12-01T09:00:00.000Z' }) createdAt!: string;
}

export class StaffCreatedDto {
  @ApiProperty({ type: StaffDto }) staff!: StaffDto;
  @ApiPropertyOptional({ example: 'q3J9x0bqTz1lXo2n8kS0ag', description: 'Outside production only; in production it is only e-mailed' })
  activationCode?: string;
  @ApiPropertyOptional({
    example: '0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b',
    description: 'When granting checker/firm-admin waits for a control change',
  })
  changeId?: string;
  @ApiPropertyOptional({ type: String, nullable: true, example: null }) effectiveAt?: string | null;
}

export class StaffPageDto {
  @ApiProperty({ type: [StaffDto] }) items!: StaffDto[];
  @ApiProperty({ type: String, nullable: true, example: null }) nextCursor!: string | null;
}

export class ControlChangeDto {
  @ApiProperty({ example: '0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b' }) id!: string;
  @ApiProperty({ example: 'grant-roles' }) kind!: string;
  @ApiProperty({ type: String, nullable: true, example: '2b7f3c1e-5b8e-4f2b-9a55-0d6e1b3c2a10' }) targetStaffId!: string | null;
  @ApiProperty({ example: { roles: ['checker'] } }) payload!: Record<string, unknown>;
  @ApiProperty({ example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10' }) requestedBy!: string;
  @ApiProperty({ enum: ['pending', 'applied', 'cancelled'], example: 'pending' }) status!: string;
  @ApiProperty({ type: String, nullable: true, example: '2026-12-02T09:00:00.000Z' }) effectiveAt!: string | null;
  @ApiProperty({ type: String, nullable: true, example: null }) approvedBy!: string | null;
  @ApiProperty({ type: String, nullable: true, example: null }) appliedAt!: string | null;
  @ApiProperty({ example: '2026-12-01T09:00:00.000Z' }) createdAt!: string;
}

export class ControlChangePageDto {
  @ApiProperty({ type: [ControlChangeDto] }) items!: ControlChangeDto[];
  @ApiProperty({ type: String, nullable: true, example: null }) nextCursor!: string | null;
}

export class ControlChangePendingDto {
  @ApiProperty({ example: '0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b' }) changeId!: string;
  @ApiProperty({ type: String, nullable: true, example: null }) effectiveAt!: string | null;
}
