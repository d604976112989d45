/**
 * Which legal basis an operation carries: required on forced transfers (v1's `reason` alone is
 * read as {code: "other", note: reason}); on freeze and recover required when
 * REQUIRE_LEGAL_BASIS is on, else a missing one is recorded as {code: "other", note: "not given"};
 * optional elsewhere.
 */
import { ValidationError } from '../common/app-error';
import type { LegalBasis } from '../transactions/entities/transaction.entity';

/** `required`: always; `configurable`: when REQUIRE_LEGAL_BASIS is on; `optional`: stored when given. */
export type LegalBasisNeed = 'required' | 'configurable' | 'optional';

const NOT_GIVEN: LegalBasis = { code: 'other', note: 'not given' };

export function legalBasisOf(need: LegalBasisNeed, body: Record<string, unknown>, requireLegalBasis: boolean): LegalBasis | null {
  const given = body.legalBasis as LegalBasis | undefined;
  if (given) {
    const { code, reference, note } = given;
    return { code, ...(reference !== undefined ? { reference } : {}), ...(note !== undefined ? { note } : {}) };
  }
  if (need === 'optional') return null;
  if (need === 'required' && typeof body.reason === 'string') return { code: 'other', note: body.reason };
  if (need === 'required' || requireLegalBasis)
    throw new ValidationError([{ field: 'legalBasis', message: 'legalBasis {code, reference?, note?} is required for this operation' }]);
  return NOT_GIVEN;
}
