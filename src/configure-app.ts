/**
 * Everything between the socket and the controllers: shared by main.ts, the e2e tests
 * and the OpenAPI generator, so what is tested is what runs.
 */
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Logger as NestLogger, type INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { ERROR_CODES, problemType } from './common/error-codes';
import { ValidationError } from './common/app-error';
import { ProblemFilter, sendProblem } from './common/problem.filter';
import { createValidationPipe } from './common/validation';
import { AppConfig } from './config/app-config';
import { Metrics } from './common/metrics';

export function configureApp(app: NestExpressApplication, opts: { swagger?: boolean } = {}): void {
  const config = app.get(AppConfig);
  try {
    app.useLogger(app.get(Logger));
  } catch {
    /* preview mode (OpenAPI generation) has no logger instance */
  }
  app.set('trust proxy', config.trustProxy);
  answerUnparsableRequests(app);
  app.disable('x-powered-by');
  app.enableShutdownHooks();

  // Swagger UI needs its own inline styles; everything else gets a strict CSP.
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'", "'unsafe-inline'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          fontSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
        },
      },
      hsts: config.tls ? { maxAge: 31_536_000 } : false,
    }),
  );

  const metrics = app.get(Metrics);
  app.use((req: Request, res: Response, next: NextFunction) => {
    const end = metrics.httpDuration.startTimer();
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      end({ method: req.method, route: route ? `${req.baseUrl}${route}` : 'unmatched', status: String(res.statusCode) });
    });
    next();
  });

  // Body parsing is ours so that malformed JSON and oversized bodies get problem+json.
  const parserLogger = new NestLogger('BodyParser');
  // Batches take up to 10,000 rows: 5 MB of JSON or CSV (bytes; decoded by the route's charset
  // rules) on that route only. Parsed first, so the global parser below skips them.
  const bulkJson = express.json({ limit: BULK_BODY_LIMIT, type: ['application/json', 'application/*+json'] });
  const bulkCsv = express.raw({ limit: BULK_BODY_LIMIT, type: 'text/csv' });
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'POST' || !BULK_ROUTE.test(req.path)) return next();
    bulkJson(req, res, (err?: unknown) => (err ? next(err) : bulkCsv(req, res, next)));
  });
  app.use(express.json({ limit: config.bodyLimit, type: ['application/json', 'application/*+json'] }));
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!err) return next();
    sendProblem(res, req, err, parserLogger);
  });
  // Contract bodies are flat; a deeply nested one (a few kB of "[[[[…") would overflow the
  // stack of the recursive transform and validation below and answer 500.
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (!nestedDeeperThan(req.body, MAX_BODY_DEPTH)) return next();
    sendProblem(
      res,
      req,
      new ValidationError([{ field: 'body', message: `body is nested deeper than ${MAX_BODY_DEPTH} levels` }]),
      parserLogger,
    );
  });

  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProblemFilter());

  if (opts.swagger !== false && config.docsEnabled) {
    const document = buildOpenApiDocument(app);
    SwaggerModule.setup('docs', app, document, {
      jsonDocumentUrl: 'docs-json',
      customSiteTitle: 'kagi API',
      swaggerOptions: { persistAuthorization: !config.isProduction, displayRequestDuration: true, tryItOutEnabled: false },
    });
  }
}

const MAX_BODY_DEPTH = 32;
const BULK_BODY_LIMIT = '5mb';
const BULK_ROUTE = /^\/v1\/tokens\/[^/]+\/batches\/?$/;

/** Iterative, so that the check itself cannot overflow the stack. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, depth] = item;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * A request Node's HTTP parser rejects (a bare CR or NUL in a header, conflicting
 * Content-Length, headers over the limit) never reaches express; Node would answer a bare
 * 400 or 431 with no body. Answer problem+json 400 VALIDATION_FAILED instead, as every
 * other error (the contract has no 431), and close the connection as Node does.
 */
function answerUnparsableRequests(app: NestExpressApplication): void {
  const server: Server = app.getHttpServer();
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const detail =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? 'The request headers are larger than the limit'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 'The request was not received in time'
          : 'The request is not valid HTTP';
    const body = JSON.stringify({
      type: problemType('VALIDATION_FAILED'),
      title: ERROR_CODES.VALIDATION_FAILED.title,
      status: 400,
      detail,
      code: 'VALIDATION_FAILED',
    });
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const table = Object.entries(ERROR_CODES)
    .map(([code, v]) => `| ${v.status} | \`${code}\` | ${v.when} |`)
    .join('\n');
  const builder = new DocumentBuilder()
    .setTitle('kagi')
    .setDescription(
      'Custody API for security tokens: envelope-encrypted signing keys, cold investor wallets and an exactly-once signing pipeline.\n\n' +
        'Every error is `application/problem+json` (RFC 9457) with one of these codes:\n\n| status | code | when |\n|---|---|---|\n' +
        table,
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'accessToken from POST /v1/auth/login' });
  const doc = SwaggerModule.createDocument(app, builder.build(), {
    operationIdFactory: (controllerKey, methodKey) => `${controllerKey.replace(/Controller$/, '')}_${methodKey}`,
  });
  doc.components = doc.components ?? {};
  doc.components.schemas = {
    ...doc.components.schemas,
    Problem: {
      type: 'object',
      required: ['type', 'title', 'status', 'detail', 'code'],
      properties: {
        type: { type: 'string', format: 'uri' },
        title: { type: 'string' },
        status: { type: 'integer' },
        detail: { type: 'string' },
        code: { type: 'string', enum: Object.keys(ERROR_CODES) },
        instance: { type: 'string' },
        errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
      },
      example: {
        type: 'https://kagi.dev/problems/validation-failed',
        title: 'Validation failed',
        status: 400,
        detail: 'The request is not valid',
        code: 'VALIDATION_FAILED',
        errors: [{ field: 'name', message: 'name should not be empty' }],
      },
    },
  };
  return doc;
}
