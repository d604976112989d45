import { describe, expect, it } from 'vitest';
import { AppError } from '../common/app-error';
import { legalBasisOf } from './legal-basis';

describe('legal basis of an operation', () => {
  it('forced transfers need one; v1 reason alone is read as other', () => {
    expect(legalBasisOf('required', { legalBasis: { code: 'court-order', reference: 'X-1' } }, false)).toEqual({
      code: 'court-order',
      reference: 'X-1',
    });
    expect(legalBasisOf('required', { reason: '相続' }, false)).toEqual({ code: 'other', note: '相続' });
    expect(() => legalBasisOf('required', {}, false)).toThrow(AppError);
  });

  it('freeze and recover follow REQUIRE_LEGAL_BASIS; optional kinds store only what is given', () => {
    expect(() => legalBasisOf('configurable', {}, true)).toThrow(AppError);
    expect(legalBasisOf('configurable', {}, false)).toEqual({ code: 'other', note: 'not given' });
    expect(legalBasisOf('optional', {}, true)).toBeNull();
    expect(legalBasisOf('optional', { legalBasis: { code: 'regulatory' } }, false)).toEqual({ code: 'regulatory' });
  });
});
