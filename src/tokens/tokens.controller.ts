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
import { ValidationError } from '../common/app-error';
import type { Request, Response } from 'express';
import { CurrentPrincipal, Roles, type Principal } from '../auth/principal';
import { ApiProblems } from '../common/api-problems';
import { PageQuery, type Page } from '../common/pagination';
import { ParseIdPipe } from '../common/parse-id.pipe';
import type { TxKind } from '../transactions/entities/transaction.entity';
import { Idempotency } from '../transactions/idempotency';
import { Pipeline } from '../transactions/pipeline';
import { TransactionsService } from '../transactions/transactions.service';
import { CreateTokenDto, EmptyDto, ForcedTransferDto, RedeemDto, UserAmountDto, UserOnlyDto } from './dto/token.dto';
import { TokensService, type TokenDto } from './tokens.service';

/** RFC 7240 `Prefer: wait=N`, clamped to 60 s. */
export function preferWait(header: string | undefined): number | undefined {
  // Any number of digits: a huge wait is clamped, not ignored (Number() of a long run is Infinity at worst).
  const m = header ? /(?:^|[;,\s])wait=(\d+)(?:$|[;,\s])/.exec(header) : null;
  return m?.[1] ? Math.min(60, Number(m[1])) : undefined;
}

const IDEM = { name: 'Idempotency-Key', required: false, description: 'same key + same body → the original answer; kept 24 h' };
const PREFER = {
  name: 'Prefer',
  required: false,
  description: 'wait=N (≤ 60): answer 200 once the transaction is final, or 202 after N seconds',
};

@ApiTags('tokens')
@ApiBearerAuth()
@Controller('v1/tokens')
export class TokensController {
  constructor(
    private readonly tokens: TokensService,
    private readonly transactions: TransactionsService,
    private readonly idempotency: Idempotency,
    private readonly pipeline: Pipeline,
  ) {}

  @Post()
  @Roles('operator')
  @ApiOperation({ summary: 'Create a security token: its deploy transaction is queued (governance = admin, signer = agent)' })
  @ApiHeader(IDEM)
  @ApiHeader(PREFER)
  @ApiAcceptedResponse({ description: 'Token (status deploying); Location of the deploy transaction' })
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
    this.pipeline.wake();
    const wait = preferWait(prefer);
    let token: TokenDto = value;
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
  list(@CurrentPrincipal() p: Principal, @Query() q: PageQuery): Promise<Page<TokenDto>> {
    return this.tokens.list(p, q);
  }

  @Get(':id')
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'Read a token, with totalSupply and paused read from the chain' })
  @ApiOkResponse({ description: 'Token' })
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND', 'CHAIN_UNAVAILABLE')
  get(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string): Promise<TokenDto> {
    return this.tokens.get(p, id);
  }

  @Get(':id/balances/:userId')
  @Roles('admin', 'operator')
  @ApiOperation({ summary: "A user's balance and freeze state, read from the chain" })
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND', 'CHAIN_UNAVAILABLE')
  balance(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string, @Param('userId', ParseIdPipe) userId: string) {
    return this.tokens.balance(p, id, userId);
  }

  @Post(':id/issue')
  @Roles('operator')
  @ApiOperation({ summary: "Issue (mint) to the user's wallet" })
  @ApiHeader(IDEM)
  @ApiHeader(PREFER)
  @ApiAcceptedResponse({ description: 'Transaction; Location header' })
  @ApiProblems(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'NOT_FOUND',
    'WALLET_NOT_ISSUED',
    'TOKEN_NOT_ACTIVE',
    'TOKEN_PAUSED',
    'ADDRESS_FROZEN',
    'IDEMPOTENCY_KEY_IN_USE',
    'IDEMPOTENCY_KEY_REUSED',
    'CHAIN_UNAVAILABLE',
  )
  issue(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: UserAmountDto,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    return this.operate(p, id, 'issue', body, req, res);
  }

  @Post(':id/redeem')
  @Roles('operator')
  @ApiOperation({ summary: "Redeem (burn) from the user's wallet" })
  @ApiHeader(IDEM)
  @ApiHeader(PREFER)
  @ApiAcceptedResponse({ description: 'Transaction; Location header' })
  @ApiProblems(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'NOT_FOUND',
    'WALLET_NOT_ISSUED',
    'TOKEN_NOT_ACTIVE',
    'TOKEN_PAUSED',
    'INSUFFICIENT_BALANCE',
    'CHAIN_UNAVAILABLE',
  )
  redeem(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: RedeemDto,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    return this.operate(p, id, 'redeem', body, req, res);
  }

  @Post(':id/forced-transfer')
  @Roles('operator')
  @ApiOperation({ summary: 'Forced transfer between two of the operator’s users' })
  @ApiHeader(IDEM)
  @ApiHeader(PREFER)
  @ApiAcceptedResponse({ description: 'Transaction; Location header' })
  @ApiProblems(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'NOT_FOUND',
    'WALLET_NOT_ISSUED',
    'TOKEN_NOT_ACTIVE',
    'TOKEN_PAUSED',
    'ADDRESS_FROZEN',
    'INSUFFICIENT_BALANCE',
    'CHAIN_UNAVAILABLE',
  )
  forced(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: ForcedTransferDto,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    return this.operate(p, id, 'forced-transfer', body, req, res);
  }

  @Post(':id/deposit')
  @Roles('operator')
  @ApiOperation({ summary: "User wallet → the operator's custody address; credits the user's custody balance when confirmed" })
  @ApiHeader(IDEM)
  @ApiHeader(PREFER)
  @ApiAcceptedResponse({ description: 'Transaction; Location header' })
  @ApiProblems(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'NOT_FOUND',
    'WALLET_NOT_ISSUED',
    'TOKEN_NOT_ACTIVE',
    'TOKEN_PAUSED',
    'ADDRESS_FROZEN',
    'INSUFFICIENT_BALANCE',
    'CHAIN_UNAVAILABLE',
  )
  deposit(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: UserAmountDto,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    return this.operate(p, id, 'deposit', body, req, res);
  }

  @Post(':id/withdraw')
  @Roles('operator')
  @ApiOperation({ summary: "Custody → the user's wallet, up to that user's custody balance" })
  @ApiHeader(IDEM)
  @ApiHeader(PREFER)
  @ApiAcceptedResponse({ description: 'Transaction; Location header' })
  @ApiProblems(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'NOT_FOUND',
    'WALLET_NOT_ISSUED',
    'TOKEN_NOT_ACTIVE',
    'TOKEN_PAUSED',
    'ADDRESS_FROZEN',
    'INSUFFICIENT_BALANCE',
    'CHAIN_UNAVAILABLE',
  )
  withdraw(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: UserAmountDto,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    return this.operate(p, id, 'withdraw', body, req, res);
  }

  @Post(':id/recover')
  @Roles('operator')
  @ApiOperation({
    summary: "Move a previous wallet's whole balance to the user's current wallet (one transaction per previous wallet holding tokens)",
  })
  @ApiHeader(IDEM)
  @ApiHeader(PREFER)
  @ApiAcceptedResponse({ description: 'Transaction; Location header' })
  @ApiProblems(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'NOT_FOUND',
    'WALLET_NOT_ISSUED',
    'TOKEN_NOT_ACTIVE',
    'TOKEN_PAUSED',
    'ADDRESS_FROZEN',
    'NOTHING_TO_RECOVER',
    'CHAIN_UNAVAILABLE',
  )
  recover(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: UserOnlyDto,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    return this.operate(p, id, 'recover', body, req, res);
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
    if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
      const lines = [
        'userId,address,balance,custodyBalance,blockNumber',
        ...register.items.map((h) => `${h.userId},${h.address},${h.balance},${h.custodyBalance},${register.blockNumber}`),
      ];
      res
        .status(200)
        .type('text/csv')
        .send(lines.join('\n') + '\n');
      return;
    }
    res.status(200).json(register);
  }

  @Post(':id/freeze')
  @Roles('operator')
  @ApiOperation({ summary: "Freeze the user's wallet on this token" })
  @ApiHeader(IDEM)
  @ApiHeader(PREFER)
  @ApiAcceptedResponse({ description: 'Transaction; Location header' })
  @ApiProblems(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'NOT_FOUND',
    'WALLET_NOT_ISSUED',
    'TOKEN_NOT_ACTIVE',
    'TOKEN_PAUSED',
    'CHAIN_UNAVAILABLE',
  )
  freeze(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: UserOnlyDto,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    return this.operate(p, id, 'freeze', body, req, res);
  }

  @Post(':id/unfreeze')
  @Roles('operator')
  @ApiOperation({ summary: "Unfreeze the user's wallet on this token" })
  @ApiHeader(IDEM)
  @ApiHeader(PREFER)
  @ApiAcceptedResponse({ description: 'Transaction; Location header' })
  @ApiProblems(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'NOT_FOUND',
    'WALLET_NOT_ISSUED',
    'TOKEN_NOT_ACTIVE',
    'TOKEN_PAUSED',
    'CHAIN_UNAVAILABLE',
  )
  unfreeze(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: UserOnlyDto,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    return this.operate(p, id, 'unfreeze', body, req, res);
  }

  @Post(':id/pause')
  @Roles('operator', 'admin')
  @ApiOperation({ summary: 'Pause every balance change of the token' })
  @ApiHeader(IDEM)
  @ApiHeader(PREFER)
  @ApiAcceptedResponse({ description: 'Transaction; Location header' })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'TOKEN_NOT_ACTIVE', 'TOKEN_PAUSED', 'CHAIN_UNAVAILABLE')
  pause(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: EmptyDto,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    return this.operate(p, id, 'pause', body, req, res);
  }

  @Post(':id/unpause')
  @Roles('operator', 'admin')
  @ApiOperation({ summary: 'Unpause the token' })
  @ApiHeader(IDEM)
  @ApiHeader(PREFER)
  @ApiAcceptedResponse({ description: 'Transaction; Location header' })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'TOKEN_NOT_ACTIVE', 'CHAIN_UNAVAILABLE')
  unpause(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: EmptyDto,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    return this.operate(p, id, 'unpause', body, req, res);
  }

  private async operate(p: Principal, tokenId: string, kind: TxKind, body: object, req: Request, res: Response): Promise<void> {
    const key = req.header('idempotency-key');
    const { value } = await this.idempotency.run(
      p.id,
      key,
      `POST /v1/tokens/${tokenId}/${kind}`,
      body,
      () => this.tokens.prepareOperation(p, tokenId, kind, { ...body }),
      (id) => this.transactions.get(p, id),
    );
    this.pipeline.wake();
    const wait = preferWait(req.header('prefer'));
    let tx = value;
    let status = 202;
    if (wait !== undefined) {
      if (await this.transactions.waitFinal(tx.id, wait)) status = 200;
      tx = await this.transactions.get(p, tx.id);
      res.setHeader('Preference-Applied', `wait=${wait}`);
    }
    res.status(status).location(`/v1/transactions/${tx.id}`).json(tx);
  }
}
