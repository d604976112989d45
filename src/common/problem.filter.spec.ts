import { describe, expect, it } from 'vitest';
import { toProblem } from './problem.filter';

describe('toProblem', () => {
  it.each([
    ['charset.unsupported', 'The request body must be UTF-8 JSON'],
    ['encoding.unsupported', 'The Content-Encoding of the request body is not supported'],
  ])('renders the body parser 415 (%s) as 400 VALIDATION_FAILED, not INTERNAL', (type, detail) => {
    const err = Object.assign(new Error('unsupported'), { status: 415, statusCode: 415, type });
    expect(toProblem(err).problem).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', detail });
  });

  it('keeps an unknown error INTERNAL without its message', () => {
    const p = toProblem(new Error('relation "x" does not exist')).problem;
    expect(p).toMatchObject({ status: 500, code: 'INTERNAL' });
    expect(JSON.stringify(p)).not.toContain('relation');
  });
});
