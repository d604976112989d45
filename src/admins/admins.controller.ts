import { Body, Controller, Get, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsEmail, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import type { Request } from 'express';
import { refuseIdempotencyKey } from '../auth/guards';
import { ApiProblems } from '../common/api-problems';
import { PageQuery, type Page } from '../common/pagination';
import { CurrentPrincipal, RequestId, Roles, type Principal } from '../common/principal';
import { AdminsService, type AdminView } from './admins.service';

class CreateAdminDto {
  @ApiProperty({ example: 'ops-suzuki' })
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$/, { message: 'loginId must be 3 to 64 characters: letters, digits, . _ @ -' })
  loginId!: string;

  @ApiProperty({ example: '鈴木 一郎', maxLength: 200 })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;

  @ApiProperty({ example: 'suzuki@platform.example.jp' })
  @IsEmail()
  @MaxLength(254)
  email!: string;
}

class AdminDto {
  @ApiProperty({ example: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d' }) id!: string;
  @ApiProperty({ example: 'ops-suzuki' }) loginId!: string;
  @ApiProperty({ example: '鈴木 一郎' }) name!: string;
  @ApiProperty({ example: 'suzuki@platform.example.jp', nullable: true, type: String }) email!: string | null;
  @ApiProperty({ example: false }) mfaEnabled!: boolean;
  @ApiProperty({ example: '2026-12-01T09:00:00.000Z' }) createdAt!: string;
}

class AdminCreatedDto {
  @ApiProperty({ type: AdminDto }) admin!: AdminDto;
  @ApiPropertyOptional({ description: 'Outside production only (e-mailed in production); POST /v1/auth/activate' })
  activationCode?: string;
}

class AdminPageDto {
  @ApiProperty({ type: [AdminDto] }) items!: AdminDto[];
  @ApiProperty({ nullable: true, type: String, example: null }) nextCursor!: string | null;
}

@ApiTags('admins')
@ApiBearerAuth()
@Controller('v1/admins')
export class AdminsController {
  constructor(private readonly admins: AdminsService) {}

  @Post()
  @Roles('admin')
  @ApiOperation({ summary: 'Add a platform admin with a one-time activation code (24 h); every admin is notified' })
  @ApiCreatedResponse({ type: AdminCreatedDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'LOGIN_ID_TAKEN')
  create(
    @Body() body: CreateAdminDto,
    @CurrentPrincipal() p: Principal,
    @Req() req: Request,
    @RequestId() rid?: string,
  ): Promise<{ admin: AdminView; activationCode?: string }> {
    refuseIdempotencyKey(req, 'admin creation');
    return this.admins.create(p, body, rid);
  }

  @Get()
  @Roles('admin')
  @ApiOperation({ summary: 'Platform admins' })
  @ApiOkResponse({ type: AdminPageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN')
  list(@Query() q: PageQuery): Promise<Page<AdminView>> {
    return this.admins.list(q);
  }
}
