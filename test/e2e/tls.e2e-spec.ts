/** With TLS_CERT_FILE/TLS_KEY_FILE, kagi serves HTTPS only. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

function get(
  mod: typeof httpsRequest | typeof httpRequest,
  url: string,
  opts: { ca?: Buffer } = {},
): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((res, rej) => {
    const req = mod(url, { ca: opts.ca, timeout: 5000 }, (r) => {
      r.resume();
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers }));
    });
    req.on('error', rej);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('HTTPS', () => {
  let t: TestApp;
  let cert: Buffer;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kagi-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'tls.key'),
        '-out',
        join(dir, 'tls.crt'),
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(join(dir, 'tls.crt'));
    t = await createTestApp({ env: { TLS_CERT_FILE: join(dir, 'tls.crt'), TLS_KEY_FILE: join(dir, 'tls.key'), KMS_PROVIDER: 'local' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves the API over HTTPS with HSTS, verified against the generated certificate', async () => {
    expect(t.url).toMatch(/^https:/);
    const r = await get(httpsRequest, `${t.url}/health/live`, { ca: cert });
    expect(r.status).toBe(200);
    expect(String(r.headers['strict-transport-security'])).toContain('max-age=');
  });

  it('does not answer plain HTTP on the same port', async () => {
    const plain = t.url.replace('https:', 'http:');
    const outcome = await get(httpRequest, `${plain}/health/live`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(outcome === 'refused' || outcome === 400).toBe(true);
  });
});
