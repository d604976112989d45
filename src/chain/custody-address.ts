/**
 * A firm's keyless custody address (api-contract "Operators"): the last 20 bytes of
 * keccak256("kagi:custody:v1:" + operatorId). It is a hash output, not derived from a
 * key, so nobody can sign for it: only agent actions (forced transfers) move tokens in
 * and out, and a signing-key rotation never moves custody.
 */
import { getAddress, keccak256, stringToBytes, type Address } from 'viem';

const PREFIX = 'kagi:custody:v1:';

export function custodyAddressOf(operatorId: string): Address {
  return getAddress(`0x${keccak256(stringToBytes(PREFIX + operatorId)).slice(-40)}`);
}
