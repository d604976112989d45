import { createServer, type Server, type Socket } from 'node:net';
import { Client } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../common/database-unavailable';
import { dataSourceOptions, DeadlineClient } from './data-source-options';

/**
 * A PostgreSQL that stopped answering (as under SIGSTOP): it completes the start-up
 * (AuthenticationOk, ReadyForQuery), then reads every query and answers none.
 */
async function hungServer(): Promise<{ port: number; closed: () => number; server: Server }> {
  let closed = 0;
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.once('close', () => {
      closed++;
      sockets.delete(s);
    });
    s.once('data', () => {
      const ok = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]); // 'R' AuthenticationOk
      const ready = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]); // 'Z' ReadyForQuery, idle
      s.write(Buffer.concat([ok, ready]));
      s.on('data', () => undefined); // queries: read, never answered
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  };
  return { port, closed: () => closed, server };
}

const since = (t0: number) => Date.now() - t0;

describe('DeadlineClient', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  it('fails a query after query_timeout and gives the connection up, so the next query (a ROLLBACK) fails at once', async () => {
    const { port, closed, server } = await hungServer();
    servers.push(server);
    const c = new DeadlineClient({ host: '127.0.0.1', port, user: 'u', database: 'd', query_timeout: 200 });
    await c.connect();
    let t0 = Date.now();
    const first = await c.query('SELECT 1').catch((e: unknown) => e);
    expect(first).toBeInstanceOf(Error);
    expect((first as Error).message).toBe('Query read timeout');
    expect(isDatabaseUnavailable(first)).toBe(true);
    expect(since(t0)).toBeLessThan(1_000);
    t0 = Date.now();
    const rollback = await c.query('ROLLBACK').catch((e: unknown) => e);
    expect(rollback).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(rollback)).toBe(true);
    // At once: not another query_timeout behind the first query.
    expect(since(t0)).toBeLessThan(150);
    await expect.poll(closed).toBe(1);
  });

  it('also abandons the connection for callback-style queries', async () => {
    const { port, closed, server } = await hungServer();
    servers.push(server);
    const c = new DeadlineClient({ host: '127.0.0.1', port, user: 'u', database: 'd', query_timeout: 150 });
    await c.connect();
    const err = await new Promise<unknown>((res) => c.query('SELECT 1', (e) => res(e)));
    expect((err as Error).message).toBe('Query read timeout');
    await expect.poll(closed).toBe(1);
  });

  it('plain pg keeps the timed-out query on the connection: the next query waits a whole timeout behind it (why the subclass exists)', async () => {
    const { port, server } = await hungServer();
    servers.push(server);
    const c = new Client({ host: '127.0.0.1', port, user: 'u', database: 'd', query_timeout: 200 });
    c.on('error', () => undefined);
    await c.connect();
    await c.query('SELECT 1').catch(() => undefined);
    const t0 = Date.now();
    await c.query('ROLLBACK').catch(() => undefined);
    expect(since(t0)).toBeGreaterThanOrEqual(190);
    c.connection.stream.destroy();
  });
});

describe('dataSourceOptions', () => {
  it('passes the deadlines to the pool, with statement_timeout below query_timeout', () => {
    const o = dataSourceOptions('postgres://u@127.0.0.1/d', {}, { queryTimeoutMs: 8_000, connectTimeoutMs: 5_000 }) as {
      extra: Record<string, unknown>;
    };
    expect(o.extra).toMatchObject({
      Client: DeadlineClient,
      query_timeout: 8_000,
      statement_timeout: 7_000,
      connectionTimeoutMillis: 5_000,
    });
    const short = dataSourceOptions('postgres://u@127.0.0.1/d', {}, { queryTimeoutMs: 1_000, connectTimeoutMs: 500 }) as {
      extra: Record<string, number>;
    };
    expect(short.extra.statement_timeout).toBe(500);
    expect(short.extra.statement_timeout).toBeLessThan(short.extra.query_timeout!);
  });
});
