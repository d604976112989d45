import { Controller, Get, NotFoundException, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheckService,
  TypeOrmHealthIndicator,
  type HealthCheckResult,
  HealthIndicatorService,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import type { Response } from 'express';
import { AppConfig } from '../config/app-config';
import { ChainService } from '../chain/chain.service';
import { KeyManagement } from '../kms/key-management';
import { Public } from '../common/public.decorator';
import { Metrics } from '../common/metrics';
import type { ErrorCode } from '../common/error-codes';
import { ReadinessContributors } from './readiness-contributors';

/**
 * Each probe's deadline. The probes run in parallel, so /health/ready answers within about
 * this even when a dependency hangs (a SIGSTOPped node or database accepts the connection and
 * never answers): under the contract's 3.5 s, and under a load balancer's usual 5 s check.
 */
const PROBE_TIMEOUT_MS = 2_500;

function withTimeout<T>(p: Promise<T>, what: string, ms = PROBE_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** The contract's error code of a part that is down, beside its message (operators grep for it). */
const DOWN_CODES: Record<string, ErrorCode> = {
  database: 'DATABASE_UNAVAILABLE',
  kms: 'KMS_UNAVAILABLE',
  chain: 'CHAIN_UNAVAILABLE',
};

function coded(name: string, result: HealthIndicatorResult): HealthIndicatorResult {
  const part = result[name];
  const code = DOWN_CODES[name];
  return part?.status === 'down' && code ? { [name]: { ...part, code } } : result;
}

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicator: HealthIndicatorService,
    private readonly kms: KeyManagement,
    private readonly chain: ChainService,
    private readonly metrics: Metrics,
    private readonly config: AppConfig,
    private readonly contributors: ReadinessContributors,
  ) {}

  @Get('health/live')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live(): { status: string } {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @ApiOperation({ summary: 'Readiness: database, KMS and chain all reachable' })
  @ApiOkResponse({
    schema: {
      example: {
        status: 'ok',
        info: { database: { status: 'up' }, kms: { status: 'up' }, chain: { status: 'up' } },
        error: {},
        details: {},
      },
    },
  })
  @ApiServiceUnavailableResponse({
    description: 'At least one part is down; `error` names it',
    schema: { example: { status: 'error', error: { kms: { status: 'down', message: 'unreachable' } } } },
  })
  async ready(@Res() res: Response): Promise<void> {
    try {
      const result = await this.health.check([
        async () => coded('database', await this.db.pingCheck('database', { timeout: PROBE_TIMEOUT_MS })),
        () => this.probe('kms', () => this.kms.probe()),
        () => this.probe('chain', () => this.chain.verifyChainId().then(() => undefined)),
        ...this.contributors.list.map((c) => () => this.probe(c.name, c.check)),
      ]);
      res.status(200).json(result);
    } catch (e) {
      const body = (e as { getResponse?: () => HealthCheckResult }).getResponse?.() ?? { status: 'error' };
      res.status(503).json(body);
    }
  }

  @Get('metrics')
  @ApiOperation({ summary: 'Prometheus metrics' })
  @ApiProduces('text/plain')
  async metricsText(@Res() res: Response): Promise<void> {
    if (!this.config.metricsEnabled) throw new NotFoundException();
    res.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }

  private async probe(name: string, fn: () => Promise<unknown>) {
    const ind = this.indicator.check(name);
    try {
      const details = await withTimeout(fn(), name);
      return ind.up(details && typeof details === 'object' ? (details as Record<string, unknown>) : undefined);
    } catch (e) {
      // Only a short, non-secret reason: the class name or a one-line message.
      const msg = e instanceof Error ? e.message.split('\n')[0]?.slice(0, 200) : 'down';
      return coded(name, ind.down({ message: msg ?? 'down' }));
    }
  }
}
