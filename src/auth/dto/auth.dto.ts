import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { FIRM_ROLES } from '../../common/principal';

export class LoginDto {
  @ApiProperty({ example: 'admin' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  loginId!: string;

  @ApiProperty({ example: 'kagi-dev-password-change-me', format: 'password' })
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  password!: string;

  @ApiPropertyOptional({ example: '123456', description: 'The current TOTP code, when TOTP is on' })
  @IsOptional()
  @IsString()
  @MaxLength(16)
  otp?: string;
}

export class ChangePasswordDto {
  @ApiProperty({ format: 'password', example: 'current-password-123' })
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  currentPassword!: string;

  @ApiProperty({ format: 'password', example: 'a-new-long-passphrase', description: 'At least 12 characters, not containing the loginId' })
  @IsString()
  @MaxLength(256)
  newPassword!: string;
}

export class ActivateDto {
  @ApiProperty({ example: 'sakura-taro' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  loginId!: string;

  @ApiProperty({ example: 'q3J9x0bqTz1lXo2n8kS0ag', description: 'One-time, valid 24 h' })
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  activationCode!: string;

  @ApiProperty({ format: 'password', example: 'a-new-long-passphrase', description: 'At least 12 characters, not containing the loginId' })
  @IsString()
  @MaxLength(256)
  newPassword!: string;
}

export class TotpEnrolDto {
  @ApiPropertyOptional({ example: '123456', description: 'A current code: needed to re-enrol while TOTP is on' })
  @IsOptional()
  @IsString()
  @MaxLength(16)
  otp?: string;
}

export class TotpConfirmDto {
  @ApiProperty({ example: '123456' })
  @IsString()
  @Matches(/^\d{6}$/, { message: 'code must be 6 digits' })
  code!: string;
}

export class TotpDisableDto {
  @ApiProperty({ example: '123456' })
  @IsString()
  @MaxLength(16)
  otp!: string;
}

export class TotpEnrolResponseDto {
  @ApiProperty({ example: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', description: 'Shown once; not active until confirmed' })
  secret!: string;

  @ApiProperty({ example: 'otpauth://totp/kagi:sakura-taro?secret=JBSWY3DPEHPK3PXP&issuer=kagi&algorithm=SHA1&digits=6&period=30' })
  otpauthUri!: string;
}

class PrincipalRefDto {
  @ApiProperty({ enum: ['admin', 'operator'], example: 'operator' })
  type!: string;

  @ApiProperty({ example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10' })
  id!: string;

  @ApiPropertyOptional({ example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10', description: 'The firm (staff only)' })
  operatorId?: string;

  @ApiPropertyOptional({ enum: FIRM_ROLES, isArray: true, example: ['maker', 'viewer'] })
  roles?: string[];
}

export class LoginResponseDto {
  @ApiProperty({ example: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9…' })
  accessToken!: string;

  @ApiProperty({ example: 'Bearer' })
  tokenType!: string;

  @ApiProperty({ example: 900, description: 'seconds' })
  expiresIn!: number;

  @ApiProperty({ type: PrincipalRefDto })
  principal!: PrincipalRefDto;
}

export class MeDto {
  @ApiProperty({ enum: ['admin', 'operator', 'api-key'], example: 'operator' })
  type!: string;

  @ApiProperty({ example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10' })
  id!: string;

  @ApiPropertyOptional({ example: 'op-sakura-securities', description: 'Not for API keys' })
  loginId?: string;

  @ApiProperty({ example: 'さくら証券' })
  name!: string;

  @ApiPropertyOptional({ example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10' })
  operatorId?: string;

  @ApiPropertyOptional({ enum: FIRM_ROLES, isArray: true, example: ['firm-admin', 'maker', 'checker', 'viewer'] })
  roles?: string[];

  @ApiPropertyOptional({ example: false })
  mfaEnabled?: boolean;

  @ApiPropertyOptional({ example: false })
  mustChangePassword?: boolean;

  @ApiPropertyOptional({ example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10', description: 'API keys only' })
  ownerStaffId?: string;
}
