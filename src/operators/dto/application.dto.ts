import { ApiProperty } from '@nestjs/swagger';
import { IsEmail, IsString, MaxLength, MinLength } from 'class-validator';

export class CreateApplicationDto {
  @ApiProperty({ example: 'さくら証券株式会社', maxLength: 200 })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  firmName!: string;

  @ApiProperty({ example: 'ops@sakura-sec.example.jp' })
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiProperty({
    format: 'password',
    example: 'our-own-long-passphrase',
    description: 'At least 12 characters; hashed at once, never stored in clear',
  })
  @IsString()
  @MaxLength(256)
  password!: string;
}

export class RejectApplicationDto {
  @ApiProperty({ example: 'Registration number could not be verified', maxLength: 1000 })
  @IsString()
  @MinLength(1)
  @MaxLength(1000)
  reason!: string;
}

export class ApplicationAcceptedDto {
  @ApiProperty({ example: '0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b' }) id!: string;
  @ApiProperty({ enum: ['pending'], example: 'pending' }) status!: 'pending';
}

export class ApplicationDto {
  @ApiProperty({ example: '0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b' }) id!: string;
  @ApiProperty({ example: 'さくら証券株式会社' }) firmName!: string;
  @ApiProperty({ example: 'ops@sakura-sec.example.jp' }) email!: string;
  @ApiProperty({ enum: ['pending', 'approved', 'rejected', 'expired'], example: 'pending' }) status!: string;
  @ApiProperty({ example: '2026-12-01T09:00:00.000Z' }) createdAt!: string;
}

export class ApplicationPageDto {
  @ApiProperty({ type: [ApplicationDto] }) items!: ApplicationDto[];
  @ApiProperty({ type: String, nullable: true, example: null }) nextCursor!: string | null;
}
