import { encodeErrorResult, getAddress } from 'viem';
import { describe, expect, it } from 'vitest';
import { decodeRevertData } from './revert-decoder';
import { securityTokenAbi } from './security-token.abi';

const a = getAddress('0x00000000000000000000000000000000000000aa');

describe('decodeRevertData', () => {
  it.each([
    ['TokenPaused', [], 'TOKEN_PAUSED'],
    ['EnforcedPause', [], 'TOKEN_PAUSED'],
    ['ExpectedPause', [], 'TOKEN_NOT_PAUSED'],
    ['FrozenAddress', [a], 'ADDRESS_FROZEN'],
    ['NotVerified', [a], 'NOT_VERIFIED'],
    ['TransferToSelf', [], 'TRANSFER_TO_SELF'],
    ['ZeroAddress', [], 'ZERO_ADDRESS'],
    ['ZeroAmount', [], 'ZERO_AMOUNT'],
    ['NothingToRecover', [a], 'NOTHING_TO_RECOVER'],
    ['ERC20InsufficientBalance', [a, 5n, 7n], 'INSUFFICIENT_BALANCE'],
    ['AccessControlUnauthorizedAccount', [a, `0x${'11'.repeat(32)}`], 'NOT_AGENT'],
  ] as const)('%s → %s', (errorName, args, code) => {
    const data = encodeErrorResult({ abi: securityTokenAbi, errorName, args });
    expect(decodeRevertData(data).code).toBe(code);
  });

  it('names the address and amounts in the message', () => {
    const data = encodeErrorResult({ abi: securityTokenAbi, errorName: 'ERC20InsufficientBalance', args: [a, 5n, 7n] });
    expect(decodeRevertData(data).message).toBe(`address ${a} holds 5, needs 7`);
  });

  it('falls back to REVERTED for empty or unknown data', () => {
    expect(decodeRevertData('0x').code).toBe('REVERTED');
    expect(decodeRevertData('0xdeadbeef').code).toBe('REVERTED');
  });
});
