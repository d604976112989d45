import { ApiProperty } from '@nestjs/swagger';
import { IsString, MaxLength, MinLength } from 'class-validator';

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

class PrincipalRefDto {
  @ApiProperty({ enum: ['admin', 'operator'], example: 'operator' })
  type!: string;

  @ApiProperty({ example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10' })
  id!: string;
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
  @ApiProperty({ enum: ['admin', 'operator'], example: 'operator' })
  type!: string;

  @ApiProperty({ example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10' })
  id!: string;

  @ApiProperty({ example: 'op-sakura-securities' })
  loginId!: string;

  @ApiProperty({ example: 'さくら証券' })
  name!: string;
}
