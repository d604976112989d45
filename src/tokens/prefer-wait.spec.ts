import { describe, expect, it } from 'vitest';
import { preferWait } from './prefer-wait';

describe('Prefer: wait=N (RFC 7240)', () => {
  it('clamps to 60 s, however many digits', () => {
    expect(preferWait('wait=5')).toBe(5);
    expect(preferWait('wait=60')).toBe(60);
    expect(preferWait('wait=61')).toBe(60);
    expect(preferWait('wait=99999999999')).toBe(60);
    expect(preferWait(`wait=${'9'.repeat(400)}`)).toBe(60);
  });

  it('reads the preference among others and ignores what is not one', () => {
    expect(preferWait('return=minimal, wait=3')).toBe(3);
    expect(preferWait('respond-async; wait=7')).toBe(7);
    expect(preferWait(undefined)).toBeUndefined();
    expect(preferWait('wait=abc')).toBeUndefined();
    expect(preferWait('wait=-1')).toBeUndefined();
    expect(preferWait('nowait=5')).toBeUndefined();
  });
});
