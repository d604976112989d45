import { Body, Controller, Get, Headers, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentPrincipal, Roles, type Principal } from '../common/principal';
import { ApiProblems } from '../common/api-problems';
import { ValidationError } from '../common/app-error';
import { Idempotency } from '../common/idempotency/idempotency';
import { PageQuery, type Page } from '../common/pagination';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { TransactionQueue } from '../transactions/queue';
import { TransactionsService } from '../transactions/transactions.service';
import { CreateTokenDto } from './dto/token.dto';
import { TokenResponse } from './dto/token.response';
import { IDEMPOTENCY_HEADER, PREFER_HEADER, preferWait } from './prefer-wait';
import { TokensService } from './tokens.service';
import { UsersService } from '../users/users.service';
import { stringify } from 'csv-stringify/sync';

/** Free text a spreadsheet would run as a formula (=, +, -, @, tab, CR first) is prefixed with ' (CSV injection). */
function cell(s: string | null): string {
  if (!s) return '';
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}

@ApiTags('tokens')
@ApiBearerAuth()
@Controller('v1/tokens')
export class TokensController {
  constructor(
    private readonly tokens: TokensService,
    private readonly transactions: TransactionsService,
    private readonly queue: TransactionQueue,
    private readonly idempotency: Idempotency,
    private readonly users: UsersService,
  ) {}

  @Post()
  @Roles('operator')
  @ApiOperation({ summary: 'Create a security token: its deploy transaction is queued (governance = admin, signer = agent)' })
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiHeader(PREFER_HEADER)
  @ApiAcceptedResponse({ type: TokenResponse, description: 'Token (status deploying); Location of the deploy transaction' })
  @ApiOkResponse({ type: TokenResponse, description: 'with Prefer: wait, once the deployment is final' })
  @ApiProblems(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'FORBIDDEN',
    'ISSUER_NOT_GRANTED',
    'IDEMPOTENCY_KEY_IN_USE',
    'IDEMPOTENCY_KEY_REUSED',
    'KMS_UNAVAILABLE',
  )
  async create(
    @CurrentPrincipal() p: Principal,
    @Body() body: CreateTokenDto,
    @Headers('idempotency-key') key: string | undefined,
    @Headers('prefer') prefer: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    const { value } = await this.idempotency.run(
      p.id,
      key,
      'POST /v1/tokens',
      body,
      () => this.tokens.prepareCreate(p, body),
      (id) => this.tokens.get(p, id, false),
    );
    this.queue.wake();
    const wait = preferWait(prefer);
    let token: TokenResponse = value;
    let status = 202;
    if (wait !== undefined) {
      if (await this.transactions.waitFinal(value.deployTransactionId, wait)) status = 200;
      token = await this.tokens.get(p, value.id);
      res.setHeader('Preference-Applied', `wait=${wait}`);
    }
    res.status(status).location(`/v1/transactions/${token.deployTransactionId}`).json(token);
  }

  @Get()
  @Roles('admin', 'operator')
  @ApiOperation({ summary: "List tokens (an operator: its own and its granted issuers'; admins: all)" })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED')
  list(@CurrentPrincipal() p: Principal, @Query() q: PageQuery): Promise<Page<TokenResponse>> {
    return this.tokens.list(p, q);
  }

  @Get(':id')
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'Read a token, with totalSupply and paused read from the chain' })
  @ApiOkResponse({ type: TokenResponse })
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND', 'CHAIN_UNAVAILABLE')
  get(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string): Promise<TokenResponse> {
    return this.tokens.get(p, id);
  }

  @Get(':id/balances/:userId')
  @Roles('admin', 'operator')
  @ApiOperation({ summary: "A user's balance and freeze state, read from the chain" })
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND', 'CHAIN_UNAVAILABLE')
  balance(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string, @Param('userId', ParseIdPipe) userId: string) {
    return this.tokens.balance(p, id, userId);
  }

  @Get(':id/custody')
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'The custody ledger and the on-chain balance of the custody address' })
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND', 'CHAIN_UNAVAILABLE')
  custody(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string) {
    return this.tokens.custody(p, id);
  }

  @Get(':id/holders')
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'The holder register at a block (JSON, or CSV with Accept: text/csv)' })
  @ApiQuery({ name: 'blockNumber', required: false })
  @ApiProduces('application/json', 'text/csv')
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'NOT_FOUND', 'TOKEN_NOT_ACTIVE', 'CHAIN_UNAVAILABLE')
  async holders(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Query('blockNumber') block: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    if (block !== undefined && !/^\d{1,18}$/.test(block))
      throw new ValidationError([{ field: 'blockNumber', message: 'blockNumber must be a non-negative integer' }]);
    const register = await this.tokens.holders(p, id, block === undefined ? undefined : BigInt(block));
    // The register fields a 株主名簿 / 社債原簿 needs, as the users are recorded now.
    const users = new Map(
      (
        await this.users.byIds(
          null,
          register.items.map((h) => h.userId),
        )
      ).map((u) => [u.id, u]),
    );
    const items = register.items.map((h) => {
      const u = users.get(h.userId);
      return {
        userId: h.userId,
        externalRef: u?.externalRef ?? null,
        name: u?.name ?? null,
        nameKana: u?.nameKana ?? null,
        postalAddress: u?.postalAddress ?? null,
        address: h.address,
        balance: h.balance,
        custodyBalance: h.custodyBalance,
      };
    });
    if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
      const text = stringify(
        items.map((h) => ({
          ...h,
          name: cell(h.name),
          nameKana: cell(h.nameKana),
          postalAddress: cell(h.postalAddress),
          blockNumber: register.blockNumber,
        })),
        {
          header: true,
          bom: true,
          columns: ['userId', 'externalRef', 'name', 'nameKana', 'postalAddress', 'address', 'balance', 'custodyBalance', 'blockNumber'],
        },
      );
      res.status(200).type('text/csv; charset=utf-8').send(text);
      return;
    }
    res.status(200).json({ blockNumber: register.blockNumber, items });
  }
}
