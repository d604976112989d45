import { Body, Controller, Get, Headers, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal, RequestId, Roles, type Principal } from '../common/principal';
import { ApiProblems } from '../common/api-problems';
import { AppError, ValidationError } from '../common/app-error';
import type { Page } from '../common/pagination';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { AppConfig } from '../config/app-config';
import { CreateUserDto, ReissueDto, UpdateUserDto, UserDto, UserPageDto, UserQuery } from './dto/user.dto';
import { UsersService } from './users.service';
import { WalletIssuanceService } from './wallet-issuance.service';

@ApiTags('users')
@ApiBearerAuth()
@Controller('v1/users')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly wallets: WalletIssuanceService,
    private readonly config: AppConfig,
  ) {}

  @Post()
  @Roles('operator')
  @ApiOperation({ summary: 'Register an investor; the platform ops are notified' })
  @ApiCreatedResponse({ type: UserDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'EXTERNAL_REF_TAKEN')
  create(@CurrentPrincipal() p: Principal, @Body() body: CreateUserDto, @RequestId() rid?: string): Promise<UserDto> {
    return this.users.create(p, body, rid);
  }

  @Get()
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'List investors, newest first (an operator: its own; admins: all)' })
  @ApiOkResponse({ type: UserPageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED')
  list(@CurrentPrincipal() p: Principal, @Query() q: UserQuery): Promise<Page<UserDto>> {
    return this.users.list(p, q);
  }

  @Get(':id')
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'Read an investor' })
  @ApiOkResponse({ type: UserDto })
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND')
  get(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string): Promise<UserDto> {
    return this.users.get(p, id);
  }

  @Patch(':id')
  @Roles('operator')
  @ApiOperation({ summary: "Correct an investor's register fields (nameKana, postalAddress, taxClass)" })
  @ApiOkResponse({ type: UserDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  update(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: UpdateUserDto,
    @RequestId() rid?: string,
  ): Promise<UserDto> {
    return this.users.update(p, id, body, rid);
  }

  @Post(':id/wallet')
  @HttpCode(201)
  @Roles('admin')
  @ApiOperation({
    summary: 'Issue the paper wallet (dev/test only: WALLET_HTTP_ISSUANCE); production uses the secure-room CLI',
    description: 'Answers the PDF once. The private key is not stored anywhere. `?reissue=true` with `{reason}` replaces a lost wallet.',
  })
  @ApiQuery({ name: 'reissue', required: false, enum: ['true', 'false'] })
  @ApiProduces('application/pdf')
  @ApiCreatedResponse({
    description: 'The paper wallet PDF; header X-Wallet-Address',
    content: { 'application/pdf': { schema: { type: 'string', format: 'binary' } } },
  })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'WALLET_ALREADY_ISSUED', 'FEATURE_DISABLED')
  async issueWallet(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Query('reissue') reissue: string | undefined,
    @Body() body: ReissueDto,
    @Headers('idempotency-key') idem: string | undefined,
    @Res() res: Response,
    @RequestId() rid?: string,
  ): Promise<void> {
    if (!this.config.walletHttpIssuanceActive)
      throw new AppError('FEATURE_DISABLED', 'HTTP wallet issuance is switched off; use the secure-room CLI (wallet:issue)');
    if (idem !== undefined)
      throw new ValidationError([{ field: 'Idempotency-Key', message: 'wallet issuance does not take an Idempotency-Key header' }]);
    if (reissue !== undefined && reissue !== 'true' && reissue !== 'false')
      throw new ValidationError([{ field: 'reissue', message: 'reissue must be true or false' }]);
    const result = await this.wallets.issue({
      userId: id,
      actor: { type: 'admin', id: p.id },
      reissue: reissue === 'true',
      reason: body.reason,
      requestId: rid,
    });
    res.status(201);
    res.setHeader('Content-Type', 'application/pdf');
    res.setHeader('Content-Disposition', `attachment; filename="${result.userId}-${result.address}.pdf"`);
    res.setHeader('X-Wallet-Address', result.address);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    res.on('finish', () => result.pdf.fill(0));
    res.end(result.pdf);
  }
}
