import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, http, type TestApp } from '../support/app';

describe('foundation: problem+json, health, metrics, docs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { KMS_PROVIDER: 'local' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers liveness and readiness with database, KMS and chain up', async () => {
    expect((await http(t.url, 'GET', '/health/live')).status).toBe(200);
    const ready = await http(t.url, 'GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.info).toMatchObject({ database: { status: 'up' }, kms: { status: 'up' }, chain: { status: 'up' } });
  });

  it('gives every answer an X-Request-Id, echoing a well-formed incoming one', async () => {
    const a = await http(t.url, 'GET', '/health/live');
    expect(a.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const b = await http(t.url, 'GET', '/health/live', { headers: { 'x-request-id': 'client-abc.123' } });
    expect(b.headers.get('x-request-id')).toBe('client-abc.123');
    const c = await http(t.url, 'GET', '/health/live', { headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(c.headers.get('x-request-id')).not.toContain(' ');
  });

  it('renders an unknown route as 404 problem+json', async () => {
    const r = await http(t.url, 'GET', '/v1/nope');
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.body).toMatchObject({ status: 404, code: 'NOT_FOUND', title: 'Not found' });
    expect(typeof r.body.type).toBe('string');
  });

  it('renders malformed JSON as 400 VALIDATION_FAILED without echoing the parser message', async () => {
    const r = await http(t.url, 'POST', '/v1/nope', { rawBody: '{"a": ' });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('VALIDATION_FAILED');
    expect(r.text).not.toMatch(/Unexpected|at position|SyntaxError/);
  });

  it('refuses an oversized body with 413 PAYLOAD_TOO_LARGE', async () => {
    const r = await http(t.url, 'POST', '/v1/nope', { rawBody: JSON.stringify({ x: 'a'.repeat(200_000) }) });
    expect(r.status).toBe(413);
    expect(r.body.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('exports Prometheus metrics with an HTTP histogram by route template and status', async () => {
    await http(t.url, 'GET', '/health/ready');
    const r = await http(t.url, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/kagi_http_request_duration_seconds_bucket\{[^}]*route="\/health\/ready"[^}]*status="200"/);
    expect(r.text).toContain('kagi_process_resident_memory_bytes');
  });

  it('serves Swagger UI and the OpenAPI document with a bearer scheme and the error table', async () => {
    const ui = await http(t.url, 'GET', '/docs');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger-ui');
    expect(ui.headers.get('content-security-policy')).toContain("script-src 'self'");
    const doc = await http(t.url, 'GET', '/docs-json');
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(doc.body.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.body.components.schemas.Problem.properties.code.enum).toContain('KMS_UNAVAILABLE');
  });

  it('sets security headers (helmet)', async () => {
    const r = await http(t.url, 'GET', '/health/live');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-powered-by')).toBeNull();
  });

  it('writes JSON log lines that carry the request id', async () => {
    await http(t.url, 'GET', '/health/ready', { headers: { 'x-request-id': 'log-probe-1' } });
    const line = t.logs.map((l) => JSON.parse(l) as Record<string, any>).find((l) => l.req?.id === 'log-probe-1');
    expect(line).toBeDefined();
  });
});
