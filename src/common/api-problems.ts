import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ERROR_CODES, type ErrorCode } from './error-codes';

/** Documents the problem+json answers a route can give, with the contract's codes. */
export function ApiProblems(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const c of codes) byStatus.set(ERROR_CODES[c].status, [...(byStatus.get(ERROR_CODES[c].status) ?? []), c]);
  return applyDecorators(
    ...[...byStatus.entries()].map(([status, cs]) =>
      ApiResponse({
        status,
        description: cs.map((c) => `\`${c}\`: ${ERROR_CODES[c].when}`).join('; '),
        content: {
          'application/problem+json': {
            schema: { $ref: '#/components/schemas/Problem' },
            example: {
              type: `https://kagi.dev/problems/${cs[0]!.toLowerCase().replace(/_/g, '-')}`,
              title: ERROR_CODES[cs[0]!].title,
              status,
              detail: ERROR_CODES[cs[0]!].title,
              code: cs[0],
            },
          },
        },
      }),
    ),
  );
}
