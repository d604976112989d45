/**
 * pino JSON logs: every line carries the request id; a redact list keeps passwords,
 * keys, tokens and ciphertexts out, whatever object someone logs.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';

const SECRET_KEYS = [
  'password',
  'currentPassword',
  'newPassword',
  'passwordHash',
  'privateKey',
  'secret',
  'token',
  'accessToken',
  'authorization',
  'cookie',
  'plaintext',
  'encryptedKey',
  'encryptedDataKey',
  'dataKey',
  'keyBytes',
  'mnemonic',
  'jwtSigningKey',
];

const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]),
];

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function requestIdOf(req: IncomingMessage, res: ServerResponse): string {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('X-Request-Id', id);
  return id;
}

/** Tests point this at a collector to scan every log line for secrets. */
export const logCapture: { stream: NodeJS.WritableStream | undefined } = { stream: undefined };

export function pinoParams(level: string, extra: { silent?: boolean } = {}): Params {
  const options = {
    level: extra.silent ? 'silent' : level,
    genReqId: requestIdOf,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    customProps: () => ({ service: 'kagi' }),
    // Request and response lines carry method, route and status, never bodies.
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url.split('?')[0] }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    autoLogging: { ignore: (req) => req.url === '/health/live' || req.url === '/metrics' },
    quietReqLogger: true,
  } satisfies NonNullable<Params['pinoHttp']>;
  return {
    pinoHttp: logCapture.stream ? [options, logCapture.stream] : options,
    forRoutes: ['*splat'],
  };
}

/** The first line of an error's message, for a one-line log entry (stacks and SQL stay out). */
export function firstLine(e: unknown): string {
  return e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e);
}
