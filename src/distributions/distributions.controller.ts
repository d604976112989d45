/** Distributions: created from the register at a record block; read as JSON or as a CSV payment list. */
import { Body, Controller, Get, Headers, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { stringify } from 'csv-stringify/sync';
import { ApiProblems } from '../common/api-problems';
import { Idempotency } from '../common/idempotency/idempotency';
import { CurrentPrincipal, Roles, StaffRoute, type Principal } from '../common/principal';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { DistributionsService } from './distributions.service';
import { CreateDistributionDto, DistributionResponse } from './dto/distribution.dto';

const COLUMNS = [
  'userId',
  'externalRef',
  'name',
  'taxClass',
  'address',
  'units',
  'gross',
  'incomeTax',
  'residentTax',
  'withholding',
  'net',
];

/** Free text a spreadsheet would run as a formula (=, +, -, @, tab, CR first) is prefixed with ' (CSV injection). */
const cell = (s: string | null) => (!s ? '' : /^[=+\-@\t\r]/.test(s) ? `'${s}` : s);

@ApiTags('distributions')
@ApiBearerAuth()
@Controller('v1')
export class DistributionsController {
  constructor(
    private readonly distributions: DistributionsService,
    private readonly idempotency: Idempotency,
  ) {}

  @Post('tokens/:id/distributions')
  @Roles('operator')
  @ApiOperation({ summary: 'A dividend or coupon from the holder register at the record block, with 源泉徴収 per holder' })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiCreatedResponse({ type: DistributionResponse })
  @ApiProblems(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'NOT_FOUND',
    'TOKEN_NOT_ACTIVE',
    'IDEMPOTENCY_KEY_IN_USE',
    'IDEMPOTENCY_KEY_REUSED',
    'CHAIN_UNAVAILABLE',
  )
  async create(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) tokenId: string,
    @Body() body: CreateDistributionDto,
    @Headers('idempotency-key') key: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    const { value } = await this.idempotency.run(
      p.id,
      key,
      `POST /v1/tokens/${tokenId}/distributions`,
      body,
      () => this.distributions.prepare(p, tokenId, body),
      (id) => this.distributions.get(p, id),
    );
    res.status(201).location(`/v1/distributions/${value.id}`).json(value);
  }

  @Get('distributions/:id')
  @StaffRoute(['firm-admin', 'maker', 'checker', 'viewer'], { admin: true })
  @ApiOperation({ summary: 'A distribution and its totals' })
  @ApiOkResponse({ type: DistributionResponse })
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND')
  get(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string): Promise<DistributionResponse> {
    return this.distributions.get(p, id);
  }

  @Get('distributions/:id/entitlements')
  @StaffRoute(['firm-admin', 'maker', 'checker', 'viewer'], { admin: true })
  @ApiOperation({ summary: "Each holder's entitlement (JSON, or CSV in UTF-8 with BOM with Accept: text/csv)" })
  @ApiProduces('application/json', 'text/csv')
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND')
  async entitlements(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string, @Req() req: Request, @Res() res: Response) {
    const items = await this.distributions.entitlements(p, id);
    if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
      const csv = stringify(
        items.map((e) => ({ ...e, name: cell(e.name), externalRef: cell(e.externalRef) })),
        { header: true, bom: true, columns: COLUMNS },
      );
      res.status(200).type('text/csv; charset=utf-8').send(csv);
      return;
    }
    res.status(200).json({ items });
  }
}
