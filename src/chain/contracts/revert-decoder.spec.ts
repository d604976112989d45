import { encodeErrorResult, getAddress, type Abi } from 'viem';
import { describe, expect, it } from 'vitest';
import { decodeRevertData } from './revert-decoder';
import { securityTokenAbi } from './security-token.abi';
import { securityTokenV1Abi } from './security-token-v1.abi';

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
    ['GovernancePaused', [], 'GOVERNANCE_PAUSED'],
    ['GovernanceNotPaused', [], 'GOVERNANCE_NOT_PAUSED'],
    ['HolderTransfersDisabled', [], 'HOLDER_TRANSFERS_DISABLED'],
    ['BatchLengthMismatch', [], 'BATCH_LENGTH_MISMATCH'],
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

  // Every error in the ABI (the contract's own and OpenZeppelin's) has its own entry, so a
  // new error added to the contract without one here fails this test.
  it.each([
    ['v2', securityTokenAbi],
    ['v1', securityTokenV1Abi],
  ] as const)('knows every error of the %s ABI', (_v, abi) => {
    const loose: Abi = abi;
    const errors = loose.filter((x) => x.type === 'error');
    expect(errors.length).toBeGreaterThan(10);
    for (const e of errors) {
      const args = e.inputs.map((i) => (i.type === 'address' ? a : i.type === 'bytes32' ? `0x${'11'.repeat(32)}` : 1n));
      const data = encodeErrorResult({ abi: loose, errorName: e.name, args });
      expect(decodeRevertData(data).message, e.name).not.toMatch(/^reverted/);
    }
  });

  it('v1 errors are a subset of v2 errors, so one decoder serves both', () => {
    const sig = (abi: readonly { type: string; name?: string; inputs?: readonly { type: string }[] }[]) =>
      abi.filter((x) => x.type === 'error').map((e) => `${e.name}(${e.inputs!.map((i) => i.type).join(',')})`);
    const v2 = new Set(sig(securityTokenAbi));
    expect(sig(securityTokenV1Abi).filter((s) => !v2.has(s))).toEqual([]);
  });

  it('falls back to REVERTED for empty or unknown data', () => {
    expect(decodeRevertData('0x').code).toBe('REVERTED');
    expect(decodeRevertData('0xdeadbeef').code).toBe('REVERTED');
  });
});
