/**
 * `POST /v1/tokens/{id}/batches` (JSON, or text/csv with ?kind=&atomic=&dryRun=; 5 MB, set in
 * configure-app.ts), `GET /v1/batches/{id}` and `GET /v1/batches/{id}/items` (JSON pages, or
 * every row as CSV). The body arrives unvalidated (a CSV is bytes): JSON goes through the same
 * ValidationPipe as every route, by hand.
 */
import { Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiExtraModels,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { stringify } from 'csv-stringify/sync';
import { ApprovalRoutes } from '../approvals/approval-routes';
import { ApiProblems } from '../common/api-problems';
import { ValidationError } from '../common/app-error';
import { Idempotency } from '../common/idempotency/idempotency';
import { CurrentPrincipal, Roles, StaffRoute, type Principal } from '../common/principal';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { toProblem } from '../common/problem.filter';
import { createValidationPipe } from '../common/validation';
import { TransactionQueue } from '../transactions/queue';
import { BatchApprovals } from './batch-approvals';
import { csvRows, decodeCsv, jsonRows } from './batch-input';
import { parseLegalBasis } from './batch-rows';
import { BatchInvalidError, BatchesService, type BatchInput } from './batches.service';
import { BatchCsvQuery, BatchItemResponse, BatchItemsQuery, BatchResponse, CreateBatchDto, RowProblem } from './dto/batch.dto';

const pipe = createValidationPipe();
const IDEMPOTENCY = { name: 'Idempotency-Key', required: false, description: 'same key + same body → the original answer' };

@ApiTags('batches')
@ApiBearerAuth()
@ApiExtraModels(RowProblem)
@Controller('v1')
export class BatchesController extends ApprovalRoutes({
  path: 'batches',
  type: BatchResponse,
  approve: {
    summary: "Approve a batch pending approval (as a whole); the last approval re-runs its rows' pre-checks and queues its lots",
    description: 'still pending, running, or partially_failed when rows were refused at the last approval (atomic: all of them)',
  },
  reject: { summary: 'Reject a batch pending approval: the batch and its rows end, nothing is signed' },
}) {
  constructor(
    private readonly batches: BatchesService,
    private readonly approvals: BatchApprovals,
    private readonly idempotency: Idempotency,
    private readonly queue: TransactionQueue,
  ) {
    super();
  }

  protected get decider(): BatchApprovals {
    return this.approvals;
  }

  @Post('tokens/:id/batches')
  @Roles('operator')
  @ApiOperation({
    summary: 'A batch of one operation kind: JSON, or CSV (UTF-8 or Shift_JIS/CP932) with ?kind=&atomic=&dryRun=',
    description:
      'Up to 10,000 rows (5 MB). Atomic (default): every row valid or 422 BATCH_INVALID listing each bad row, nothing queued. ' +
      'Non-atomic: valid rows run, the others are listed `invalid`. Runs in lots of ≤ 100 rows per transaction.',
  })
  @ApiConsumes('application/json', 'text/csv')
  @ApiBody({ type: CreateBatchDto })
  @ApiHeader(IDEMPOTENCY)
  @ApiAcceptedResponse({ type: BatchResponse })
  @ApiOkResponse({ type: BatchResponse, description: 'dry run: the report, nothing stored' })
  @ApiUnprocessableEntityResponse({ description: 'BATCH_INVALID: problem+json with rows: [{row, field, code, message}]' })
  @ApiProblems(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'NOT_FOUND',
    'TOKEN_NOT_ACTIVE',
    'TOKEN_PAUSED',
    'GOVERNANCE_PAUSED',
    'PAYLOAD_TOO_LARGE',
    'BATCH_INVALID',
    'IDEMPOTENCY_KEY_IN_USE',
    'IDEMPOTENCY_KEY_REUSED',
    'CHAIN_UNAVAILABLE',
  )
  async create(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) tokenId: string,
    @Query() q: BatchCsvQuery,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const { input, dryRun, scopeBody } = await this.input(req, q);
    try {
      if (dryRun) {
        res.status(200).json(await this.batches.dryRun(p, tokenId, input));
        return;
      }
      const { value } = await this.idempotency.run(
        p.id,
        req.header('idempotency-key'),
        `POST /v1/tokens/${tokenId}/batches`,
        scopeBody,
        () => this.batches.prepare(p, tokenId, input),
        (id) => this.batches.get(p, id),
      );
      this.queue.wake();
      res.status(202).location(`/v1/batches/${value.id}`).json(value);
    } catch (e) {
      if (!(e instanceof BatchInvalidError)) throw e;
      const { problem } = toProblem(e);
      res
        .status(422)
        .type('application/problem+json')
        .json({ ...problem, rows: e.rows });
    }
  }

  private async input(req: Request, q: BatchCsvQuery): Promise<{ input: BatchInput; dryRun: boolean; scopeBody: unknown }> {
    if (req.is('text/csv')) {
      if (!q.kind) throw new ValidationError([{ field: 'kind', message: 'kind is required (query) for a CSV batch' }]);
      const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const rows = await csvRows(decodeCsv(bytes, req.header('content-type')));
      if (!rows.length) throw new ValidationError([{ field: 'body', message: 'the CSV has no rows' }]);
      return {
        input: { kind: q.kind, rows, legalBasis: null, atomic: q.atomic !== 'false' },
        dryRun: q.dryRun === 'true',
        scopeBody: { kind: q.kind, atomic: q.atomic ?? 'true', csv: bytes.toString('base64') },
      };
    }
    if (q.kind !== undefined || q.atomic !== undefined || q.dryRun !== undefined)
      throw new ValidationError([{ field: 'query', message: 'kind, atomic and dryRun go in the JSON body' }]);
    const dto = (await pipe.transform(req.body ?? {}, { type: 'body', metatype: CreateBatchDto })) as CreateBatchDto;
    let legalBasis;
    try {
      legalBasis = dto.legalBasis === undefined ? null : parseLegalBasis(dto.legalBasis);
    } catch (e) {
      throw new ValidationError([{ field: 'legalBasis', message: (e as Error).message }]);
    }
    return {
      input: { kind: dto.kind, rows: jsonRows(dto.items as Array<Record<string, unknown>>), legalBasis, atomic: dto.atomic !== false },
      dryRun: dto.dryRun === true,
      scopeBody: req.body,
    };
  }

  @Get('batches/:id')
  @StaffRoute(['firm-admin', 'maker', 'checker', 'viewer'], { admin: true })
  @ApiOperation({ summary: 'A batch: its status and row counts' })
  @ApiOkResponse({ type: BatchResponse })
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND')
  get(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string): Promise<BatchResponse> {
    return this.batches.get(p, id);
  }

  @Get('batches/:id/items')
  @StaffRoute(['firm-admin', 'maker', 'checker', 'viewer'], { admin: true })
  @ApiOperation({ summary: "A batch's rows with their status (JSON pages, or every row as CSV with Accept: text/csv)" })
  @ApiProduces('application/json', 'text/csv')
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'NOT_FOUND')
  async items(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Query() q: BatchItemsQuery,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
      const rows = await this.batches.items(p, id, 0, undefined);
      const csv = stringify(
        rows.map((r) => itemCsvRow(r)),
        { header: true, columns: ITEM_CSV_COLUMNS, bom: true },
      );
      res.status(200).type('text/csv; charset=utf-8').send(csv);
      return;
    }
    const after = q.cursor ? Number(Buffer.from(q.cursor, 'base64url').toString('utf8').replace(/^row:/, '')) : 0;
    if (!Number.isInteger(after) || after < 0) throw new ValidationError([{ field: 'cursor', message: 'cursor is not valid' }]);
    const limit = q.limit ?? 20;
    const items = await this.batches.items(p, id, after, limit + 1);
    const page = items.slice(0, limit);
    const nextCursor = items.length > limit ? Buffer.from(`row:${page[page.length - 1]!.row}`).toString('base64url') : null;
    res.status(200).json({ items: page, nextCursor });
  }
}

const ITEM_CSV_COLUMNS = [
  'row',
  'userId',
  'toUserId',
  'amount',
  'legalBasisCode',
  'legalBasisReference',
  'legalBasisNote',
  'status',
  'transactionId',
  'errorCode',
  'errorField',
  'errorMessage',
];

function itemCsvRow(r: BatchItemResponse): Record<string, string | number> {
  const lb = (r.legalBasis ?? {}) as { code?: string; reference?: string; note?: string };
  const err = (r.error ?? {}) as { code?: string; field?: string; message?: string };
  return {
    row: r.row,
    userId: r.userId ?? '',
    toUserId: r.toUserId ?? '',
    amount: r.amount ?? '',
    legalBasisCode: lb.code ?? '',
    legalBasisReference: cell(lb.reference),
    legalBasisNote: cell(lb.note),
    status: r.status,
    transactionId: r.transactionId ?? '',
    errorCode: err.code ?? '',
    errorField: err.field ?? '',
    errorMessage: cell(err.message),
  };
}

/** Free text a spreadsheet would run as a formula (=, +, -, @, tab, CR first) is prefixed with ' (CSV injection). */
function cell(s: string | null | undefined): string {
  if (!s) return '';
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}
