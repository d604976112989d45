/**
 * Renders every error as RFC 9457 problem+json with a code from error-codes.ts.
 * Logs 5xx only (with the request id); never echoes stacks, SQL or key material.
 */
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppError, type FieldError } from './app-error';
import { isDatabaseUnavailable } from './database-unavailable';
import { ERROR_CODES, problemType, type ErrorCode } from './error-codes';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string;
  errors?: FieldError[];
}

const STATUS_TO_CODE: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  // The body parser's "unsupported charset / content encoding": the contract has no 415,
  // and a body kagi cannot read is a bad request, not an internal error.
  415: 'VALIDATION_FAILED',
  429: 'RATE_LIMITED',
};

export function toProblem(err: unknown): { problem: Problem; headers: Record<string, string> } {
  if (err instanceof AppError) {
    return {
      problem: {
        type: problemType(err.code),
        title: ERROR_CODES[err.code].title,
        status: err.status,
        detail: err.detail,
        code: err.code,
        ...(err.options.errors ? { errors: err.options.errors } : {}),
      },
      headers: err.options.headers ?? {},
    };
  }
  if (isDatabaseUnavailable(err)) {
    const code: ErrorCode = 'DATABASE_UNAVAILABLE';
    return {
      problem: {
        type: problemType(code),
        title: ERROR_CODES[code].title,
        status: 503,
        detail: 'The database could not be reached; try again shortly',
        code,
      },
      headers: { 'Retry-After': '1' },
    };
  }
  // Framework errors (unknown route, body parser, guards) carry a status we can trust,
  // but their messages may not be meant for clients: use our own wording.
  const status = err instanceof HttpException ? err.getStatus() : statusOf(err);
  const code = status !== undefined ? STATUS_TO_CODE[status] : undefined;
  if (status !== undefined && code) {
    return {
      problem: {
        type: problemType(code),
        title: ERROR_CODES[code].title,
        status: ERROR_CODES[code].status,
        detail: detailFor(code, err),
        code,
      },
      headers: {},
    };
  }
  return {
    problem: {
      type: problemType('INTERNAL'),
      title: ERROR_CODES.INTERNAL.title,
      status: 500,
      detail: 'An internal error occurred; quote the X-Request-Id header when reporting it',
      code: 'INTERNAL',
    },
    headers: {},
  };
}

function statusOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null) {
    const s = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
    if (typeof s === 'number' && s >= 400 && s < 500) return s;
  }
  return undefined;
}

function detailFor(code: ErrorCode, err: unknown): string {
  const type = typeof err === 'object' && err !== null ? (err as { type?: unknown }).type : undefined;
  switch (code) {
    case 'VALIDATION_FAILED':
      if (type === 'entity.parse.failed') return 'The request body is not valid JSON';
      if (type === 'charset.unsupported') return 'The request body must be UTF-8 JSON';
      if (type === 'encoding.unsupported') return 'The Content-Encoding of the request body is not supported';
      return 'The request is not valid';
    case 'NOT_FOUND':
      return 'No such resource or route';
    case 'PAYLOAD_TOO_LARGE':
      return 'The request body is larger than the limit';
    case 'UNAUTHENTICATED':
      return 'A valid access token is required';
    case 'FORBIDDEN':
      return 'This principal may not call this route';
    default:
      return ERROR_CODES[code].title;
  }
}

export function sendProblem(res: Response, req: Request, err: unknown, logger: Logger): void {
  const { problem, headers } = toProblem(err);
  if (problem.status >= 500) {
    const id = (req as { id?: unknown }).id;
    const reqId = typeof id === 'string' ? id : '';
    // The error's own message may name internals: it goes to the log, never to the client.
    const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    logger.error({ reqId, code: problem.code, err: msg.slice(0, 2000) }, 'request failed');
  }
  if (res.headersSent) return;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res
    .status(problem.status)
    .type('application/problem+json')
    .send(JSON.stringify({ ...problem, instance: req.originalUrl?.split('?')[0] }));
}

@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    sendProblem(ctx.getResponse<Response>(), ctx.getRequest<Request>(), exception, this.logger);
  }
}
