/** `POST /v1/orders` and `GET /v1/orders/{id}`: operations on several tokens, accepted together or not at all. */
import { Body, Controller, Get, Headers, Param, Post, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApprovalRoutes } from '../approvals/approval-routes';
import { ApiProblems } from '../common/api-problems';
import { Idempotency } from '../common/idempotency/idempotency';
import { CurrentPrincipal, Roles, StaffRoute, type Principal } from '../common/principal';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { toProblem } from '../common/problem.filter';
import { TransactionQueue } from '../transactions/queue';
import { BatchInvalidError } from '../batches/batches.service';
import { CreateOrderDto, OrderResponse } from './dto/order.dto';
import { OrdersService } from './orders.service';

@ApiTags('orders')
@ApiBearerAuth()
@Controller('v1/orders')
export class OrdersController extends ApprovalRoutes({
  path: '',
  type: OrderResponse,
  approve: {
    summary:
      "Approve an order pending approval (as a whole); the last approval re-runs its operations' pre-checks and queues all its transactions",
    description: 'still pending, running, or partially_failed with every transaction failed when one was refused at the last approval',
  },
  reject: { summary: 'Reject an order pending approval: all its transactions end rejected, nothing is signed' },
}) {
  constructor(
    private readonly orders: OrdersService,
    private readonly idempotency: Idempotency,
    private readonly queue: TransactionQueue,
  ) {
    super();
  }

  protected get decider(): OrdersService {
    return this.orders;
  }

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
}
