import { keccak_256 } from '@noble/hashes/sha3';
import fc from 'fast-check';
import { isAddress } from 'viem';
import { describe, expect, it } from 'vitest';
import { custodyAddressOf } from './custody-address';

describe('custodyAddressOf', () => {
  // Vectors from Anvil's `web3_sha3` RPC (a Rust keccak, independent of viem):
  // web3_sha3(utf8("kagi:custody:v1:" + id)), last 20 bytes.
  it.each([
    ['00000000-0000-4000-8000-000000000000', '0x609ce9647d612a9fe4170a19d2247f5886056ddc'],
    ['3f1c2a9e-7b4d-4e21-9c55-0a8d6f2b1e77', '0xb90e3e42b3b7b9be81a013e17845f85473a7aa1a'],
  ])('%s → %s', (id, expected) => {
    const a = custodyAddressOf(id);
    expect(a.toLowerCase()).toBe(expected);
    expect(isAddress(a, { strict: true })).toBe(true); // EIP-55 checksummed
  });

  it('is the last 20 bytes of keccak256 of the prefixed id, for any operator id', () => {
    fc.assert(
      fc.property(fc.uuid(), (id) => {
        const digest = keccak_256(new TextEncoder().encode(`kagi:custody:v1:${id}`));
        const expected = '0x' + Buffer.from(digest.subarray(12)).toString('hex');
        expect(custodyAddressOf(id).toLowerCase()).toBe(expected);
      }),
    );
  });

  it('differs per operator', () => {
    expect(custodyAddressOf('00000000-0000-4000-8000-000000000001')).not.toBe(custodyAddressOf('00000000-0000-4000-8000-000000000002'));
  });
});
