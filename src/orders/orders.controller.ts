/** `POST /v1/orders` and `GET /v1/orders/{id}`: operations on several tokens, accepted together or not at all. */
import { Body, Controller, Get, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApproveDto, RejectDto } from '../approvals/dto/policy.dto';
import { ApiProblems } from '../common/api-problems';
import { Idempotency } from '../common/idempotency/idempotency';
import { CurrentPrincipal, RequestId, Roles, StaffRoute, type Principal } from '../common/principal';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { toProblem } from '../common/problem.filter';
import { TransactionQueue } from '../transactions/queue';
import { BatchInvalidError } from '../batches/batches.service';
import { CreateOrderDto, OrderResponse } from './dto/order.dto';
import { OrdersService } from './orders.service';

@ApiTags('orders')
@ApiBearerAuth()
@Controller('v1/orders')
export class OrdersController {
  constructor(
    private readonly orders: OrdersService,
    private readonly idempotency: Idempotency,
    private readonly queue: TransactionQueue,
  ) {}

  @Post()
  @Roles('operator')
  @ApiOperation({
    summary: "Operations on several tokens, all validated first and all accepted or none; each signed by its token's signer",
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiAcceptedResponse({ type: OrderResponse })
  @ApiProblems(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'BATCH_INVALID',
    'IDEMPOTENCY_KEY_IN_USE',
    'IDEMPOTENCY_KEY_REUSED',
    'CHAIN_UNAVAILABLE',
  )
  async create(
    @CurrentPrincipal() p: Principal,
    @Body() body: CreateOrderDto,
    @Headers('idempotency-key') key: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    try {
      const { value } = await this.idempotency.run(
        p.id,
        key,
        'POST /v1/orders',
        body,
        () => this.orders.prepare(p, body.operations),
        (id) => this.orders.get(p, id),
      );
      this.queue.wake();
      res.status(202).location(`/v1/orders/${value.id}`).json(value);
    } catch (e) {
      if (!(e instanceof BatchInvalidError)) throw e;
      res
        .status(422)
        .type('application/problem+json')
        .json({ ...toProblem(e).problem, rows: e.rows });
    }
  }

  @Get(':id')
  @StaffRoute(['firm-admin', 'maker', 'checker', 'viewer'], { admin: true })
  @ApiOperation({ summary: 'An order and its transactions' })
  @ApiOkResponse({ type: OrderResponse })
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND')
  get(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string): Promise<OrderResponse> {
    return this.orders.get(p, id);
  }

  @Post(':id/approve')
  @HttpCode(200)
  @StaffRoute(['checker'])
  @ApiOperation({ summary: 'Approve an order pending approval (as a whole); the last approval queues all its transactions' })
  @ApiOkResponse({ type: OrderResponse })
  @ApiProblems(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'MFA_REQUIRED',
    'FORBIDDEN',
    'SELF_APPROVAL',
    'MFA_NOT_ENABLED',
    'NOT_FOUND',
    'NOT_PENDING',
    'ALREADY_APPROVED',
  )
  approve(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: ApproveDto,
    @CurrentPrincipal() p: Principal,
    @RequestId() rid?: string,
  ): Promise<OrderResponse> {
    return this.orders.approve(p, id, body, rid);
  }

  @Post(':id/reject')
  @HttpCode(200)
  @StaffRoute(['checker'])
  @ApiOperation({ summary: 'Reject an order pending approval: all its transactions end rejected, nothing is signed' })
  @ApiOkResponse({ type: OrderResponse })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'NOT_PENDING')
  reject(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: RejectDto,
    @CurrentPrincipal() p: Principal,
    @RequestId() rid?: string,
  ): Promise<OrderResponse> {
    return this.orders.reject(p, id, body.reason, rid);
  }
}
