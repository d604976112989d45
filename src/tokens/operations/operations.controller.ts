/**
 * `POST /v1/tokens/{id}/<operation>`: one route per catalogue entry, generated from the
 * catalogue (path, body DTO for validation and OpenAPI, roles, problems), all served by
 * `operate`: idempotency, acceptance, then `Prefer: wait`.
 */
import { applyDecorators, Body, Controller, Param, Post, Req, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiBody, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentPrincipal, Roles, type Principal } from '../../common/principal';
import { ApiProblems } from '../../common/api-problems';
import { Idempotency } from '../../common/idempotency/idempotency';
import { ParseIdPipe } from '../../common/parse-id.pipe';
import { TransactionResponse } from '../../transactions/dto/transaction.response';
import { TransactionQueue } from '../../transactions/queue';
import { TransactionsService } from '../../transactions/transactions.service';
import { IDEMPOTENCY_HEADER, PREFER_HEADER, preferWait } from '../prefer-wait';
import { OPERATIONS, type OperationSpec } from './catalogue';
import { TokenOperations } from './operations.service';

@ApiTags('tokens')
@ApiBearerAuth()
@Controller('v1/tokens')
export class OperationsController {
  constructor(
    private readonly operations: TokenOperations,
    private readonly transactions: TransactionsService,
    private readonly queue: TransactionQueue,
    private readonly idempotency: Idempotency,
  ) {}

  async operate(p: Principal, tokenId: string, kind: string, body: object, req: Request, res: Response): Promise<void> {
    const { value } = await this.idempotency.run(
      p.id, // keys are scoped to the principal
      req.header('idempotency-key'),
      `POST /v1/tokens/${tokenId}/${kind}`,
      body,
      () => this.operations.prepare(p, tokenId, kind, { ...body }),
      (id) => this.transactions.get(p, id),
    );
    this.queue.wake();
    const wait = preferWait(req.header('prefer'));
    let tx = value;
    let status = 202;
    // A request waiting for approval answers at once (202), also under Prefer: wait.
    if (wait !== undefined && tx.status !== 'pending_approval') {
      // Final: answered with the row the wait read; otherwise as it stands now.
      const final = await this.transactions.waitFinal(tx.id, wait);
      if (final) status = 200;
      tx = final ?? (await this.transactions.get(p, tx.id));
      res.setHeader('Preference-Applied', `wait=${wait}`);
    }
    res.status(status).location(`/v1/transactions/${tx.id}`).json(tx);
  }
}

/** Adds the route of one catalogue entry to OperationsController. */
function route(spec: OperationSpec): void {
  const proto = OperationsController.prototype as unknown as Record<string, unknown>;
  const name = `op_${spec.kind.replace(/-/g, '_')}`;
  proto[name] = function (this: OperationsController, p: Principal, id: string, body: object, req: Request, res: Response) {
    return this.operate(p, id, spec.kind, body, req, res);
  };
  // Parameter types drive the ValidationPipe (the body DTO) and the OpenAPI document.
  Reflect.defineMetadata('design:paramtypes', [Object, String, spec.body, Object, Object], proto, name);
  Reflect.defineMetadata('design:returntype', Promise, proto, name);
  const descriptor = Object.getOwnPropertyDescriptor(proto, name)!;
  CurrentPrincipal()(proto, name, 0);
  Param('id', ParseIdPipe)(proto, name, 1);
  Body()(proto, name, 2);
  Req()(proto, name, 3);
  Res()(proto, name, 4);
  applyDecorators(
    Post(`:id/${spec.kind}`),
    spec.who === 'pauser' ? Roles('operator', 'admin') : Roles('operator'),
    ApiOperation({ summary: spec.summary }),
    ApiBody({ type: spec.body }),
    ApiHeader(IDEMPOTENCY_HEADER),
    ApiHeader(PREFER_HEADER),
    ApiAcceptedResponse({ type: TransactionResponse, description: 'Transaction; Location header' }),
    ApiOkResponse({ type: TransactionResponse, description: 'with Prefer: wait, once final' }),
    ApiProblems(...spec.problems),
  )(proto, name, descriptor);
}

for (const spec of OPERATIONS) route(spec);
