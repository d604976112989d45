import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from './database-unavailable';
import { toProblem } from './problem.filter';

const sys = (code: string, message = `connect ${code} 127.0.0.1:5432`) => Object.assign(new Error(message), { code, syscall: 'connect' });

describe('isDatabaseUnavailable', () => {
  it('recognises the pg driver and server errors of a database that is down or restarting', () => {
    for (const e of [
      sys('ECONNREFUSED'),
      sys('ECONNRESET'),
      new Error('Connection terminated unexpectedly'),
      new Error('Connection terminated due to connection timeout'),
      new Error('timeout exceeded when trying to connect'),
      // pg's query_timeout: the server stopped answering (SIGSTOP, a frozen VM).
      new Error('Query read timeout'),
      Object.assign(new Error('Query read timeout'), { name: 'QueryFailedError', driverError: new Error('Query read timeout') }),
      Object.assign(new Error('the database system is shutting down'), { code: '57P03' }),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('connection failure'), { code: '08006' }),
      // TypeORM's QueryFailedError keeps the driver's error in driverError.
      Object.assign(new Error('query failed'), { name: 'QueryFailedError', driverError: Object.assign(new Error('x'), { code: '57P01' }) }),
    ]) {
      expect(isDatabaseUnavailable(e), String(e)).toBe(true);
    }
  });

  it('leaves other errors alone, including HTTP clients that wrap a refused connection in cause', () => {
    for (const e of [
      new Error('boom'),
      Object.assign(new Error('duplicate key'), { code: '23505' }),
      Object.assign(new Error('syntax error'), { code: '42601' }),
      // The server's own statement_timeout: the database answers, the query was too slow.
      Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }),
      Object.assign(new Error('HTTP request failed.'), { name: 'HttpRequestError', cause: sys('ECONNREFUSED') }),
      Object.assign(new TypeError('fetch failed'), { cause: sys('ECONNREFUSED') }),
      undefined,
      'string',
    ]) {
      expect(isDatabaseUnavailable(e), String(e)).toBe(false);
    }
  });

  it('renders 503 DATABASE_UNAVAILABLE with Retry-After and no internals', () => {
    const { problem, headers } = toProblem(sys('ECONNREFUSED'));
    expect(problem).toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE', title: 'Database unavailable' });
    expect(problem.detail).not.toMatch(/ECONN|127\.0\.0\.1|5432/);
    expect(headers['Retry-After']).toBe('1');
    expect(toProblem(new Error('boom')).problem).toMatchObject({ status: 500, code: 'INTERNAL' });
  });
});
