/**
 * Boots the real AppModule through configureApp against the run's PostgreSQL, KMS API
 * (moto/LocalStack) and Anvil, listening on a loopback port, so tests talk HTTP to it
 * exactly as a client would. Log lines are captured for secret scans, and recorded for
 * the run's secret sweep (test/support/recording.ts) together with a /metrics scrape
 * taken when the app closes.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { inject } from 'vitest';
import { AppModule } from '../../src/app.module';
import { logCapture } from '../../src/common/logging';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { configureApp } from '../../src/configure-app';
import { recordLogLines } from './recording';

export interface TestApp {
  app: NestExpressApplication;
  url: string;
  config: AppConfig;
  logs: string[];
  close(): Promise<void>;
}

export function testEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'kagi-e2e-data-')),
    DATABASE_URL: inject('databaseUrl'),
    KMS_PROVIDER: 'aws',
    KMS_ENDPOINT: inject('kmsEndpoint'),
    KMS_KEY_ID: inject('kmsKeyId'),
    AWS_REGION: inject('kmsRegion'),
    CHAIN_RPC_URL: inject('rpcUrl'),
    CHAIN_ID: String(inject('chainId')),
    JWT_SIGNING_KEY: 'e2e-jwt-signing-key-0123456789abcdef0123456789',
    PLATFORM_ADMIN_LOGIN_ID: 'root-admin',
    PLATFORM_ADMIN_PASSWORD: 'e2e-platform-password-42',
    WALLET_HTTP_ISSUANCE: 'true',
    DEV_GAS_FUNDING: 'true',
    LOG_LEVEL: 'info',
    // Cheap argon2id parameters in tests (production defaults are in the README).
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_ITERATIONS: '1',
    RATE_LIMIT_PER_MINUTE: '100000',
    LOGIN_RATE_LIMIT_PER_MINUTE: '100000',
    // The e2e files share two cores with their chain, database and KMS; a healthy node or database
    // can be slower than the production deadlines there. The deadlines themselves (defaults) are
    // tested against a hung node and a hung database in the reliability suite (faults-hung).
    CHAIN_READ_TIMEOUT: '5s',
    DATABASE_QUERY_TIMEOUT: '30s',
    ...overrides,
  };
}

/** The AWS SDK reads credentials from the environment itself; moto accepts any. */
function ensureAwsTestCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
}

export async function createTestApp(
  opts: { env?: Record<string, string | undefined>; customize?: (b: TestingModuleBuilder) => TestingModuleBuilder } = {},
): Promise<TestApp> {
  ensureAwsTestCredentials();
  const config = loadConfig(testEnv(opts.env));
  const logs: string[] = [];
  logCapture.stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const lines = chunk.toString('utf8').split('\n').filter(Boolean);
      logs.push(...lines);
      recordLogLines(lines);
      cb();
    },
  });
  let builder = Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(AppConfig)
    .useValue(config);
  if (opts.customize) builder = opts.customize(builder);
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({
    bodyParser: false,
    bufferLogs: true,
    httpsOptions: config.tls ? { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) } : undefined,
  });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as { address(): { port: number } };
  const url = `${config.tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;
  return {
    app,
    url,
    config,
    logs,
    close: async () => {
      // The sweep scans every instance's metrics: scrape (through the recording fetch) before closing.
      if (config.metricsEnabled)
        await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })
          .then((r) => r.text())
          .catch(() => undefined);
      await app.close();
      logCapture.stream = undefined;
    },
  };
}

/** A tiny fetch wrapper returning status, headers and parsed body. */
export async function http(
  base: string,
  method: string,
  path: string,
  opts: { body?: unknown; rawBody?: string; token?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let payload: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    payload = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  } else if (payload !== undefined) {
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body: payload });
  const text = await res.text();
  let body: any = undefined;
  const ct = res.headers.get('content-type') ?? '';
  if (ct.includes('json') && text) body = JSON.parse(text);
  return { status: res.status, headers: res.headers, body, text };
}
