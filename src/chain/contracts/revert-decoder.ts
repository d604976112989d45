/**
 * Turns a revert of the SecurityToken contract (custom errors, OpenZeppelin errors) into
 * a kagi error code and a readable message for a failed transaction. Messages name
 * addresses and amounts only: public data, no secrets.
 */
import { BaseError, ContractFunctionRevertedError, decodeErrorResult, type Hex } from 'viem';
import { securityTokenAbi } from './security-token.abi';

export type RevertCode =
  | 'TOKEN_PAUSED'
  | 'TOKEN_NOT_PAUSED'
  | 'ADDRESS_FROZEN'
  | 'INSUFFICIENT_BALANCE'
  | 'NOT_VERIFIED'
  | 'NOT_AGENT'
  | 'TRANSFER_TO_SELF'
  | 'ZERO_ADDRESS'
  | 'ZERO_AMOUNT'
  | 'NOTHING_TO_RECOVER'
  | 'GOVERNANCE_PAUSED'
  | 'GOVERNANCE_NOT_PAUSED'
  | 'HOLDER_TRANSFERS_DISABLED'
  | 'BATCH_LENGTH_MISMATCH'
  | 'REVERTED';

export interface DecodedRevert {
  code: RevertCode;
  message: string;
}

const BY_ERROR: Record<string, (args: readonly unknown[]) => DecodedRevert> = {
  TokenPaused: () => ({ code: 'TOKEN_PAUSED', message: 'the token is paused' }),
  EnforcedPause: () => ({ code: 'TOKEN_PAUSED', message: 'the token is paused' }),
  ExpectedPause: () => ({ code: 'TOKEN_NOT_PAUSED', message: 'the token is not paused' }),
  FrozenAddress: ([a]) => ({ code: 'ADDRESS_FROZEN', message: `address ${String(a)} is frozen` }),
  NotVerified: ([a]) => ({ code: 'NOT_VERIFIED', message: `address ${String(a)} is not a registered holder` }),
  TransferToSelf: () => ({ code: 'TRANSFER_TO_SELF', message: 'sender and receiver are the same address' }),
  ZeroAddress: () => ({ code: 'ZERO_ADDRESS', message: 'the zero address is not allowed' }),
  ERC20InvalidReceiver: () => ({ code: 'ZERO_ADDRESS', message: 'the zero address cannot receive tokens' }),
  ERC20InvalidSender: () => ({ code: 'ZERO_ADDRESS', message: 'the zero address cannot send tokens' }),
  ERC20InvalidApprover: () => ({ code: 'ZERO_ADDRESS', message: 'the zero address cannot approve' }),
  ERC20InvalidSpender: () => ({ code: 'ZERO_ADDRESS', message: 'the zero address cannot be approved' }),
  ZeroAmount: () => ({ code: 'ZERO_AMOUNT', message: 'the amount must be greater than zero' }),
  NothingToRecover: ([a]) => ({ code: 'NOTHING_TO_RECOVER', message: `wallet ${String(a)} holds nothing to recover` }),
  GovernancePaused: () => ({ code: 'GOVERNANCE_PAUSED', message: 'the token is paused by governance; only governance can lift it' }),
  GovernanceNotPaused: () => ({ code: 'GOVERNANCE_NOT_PAUSED', message: 'the token is not paused by governance' }),
  HolderTransfersDisabled: () => ({
    code: 'HOLDER_TRANSFERS_DISABLED',
    message: "holders cannot move this token themselves; every movement is the agent's",
  }),
  BatchLengthMismatch: () => ({ code: 'BATCH_LENGTH_MISMATCH', message: 'the batch arrays differ in length' }),
  ERC20InsufficientBalance: ([a, bal, needed]) => ({
    code: 'INSUFFICIENT_BALANCE',
    message: `address ${String(a)} holds ${String(bal)}, needs ${String(needed)}`,
  }),
  ERC20InsufficientAllowance: () => ({ code: 'INSUFFICIENT_BALANCE', message: 'allowance too small' }),
  AccessControlUnauthorizedAccount: ([a]) => ({ code: 'NOT_AGENT', message: `account ${String(a)} lacks the required role` }),
  // renounceRole(role, account) with an account other than the caller: a caller's mistake, no kagi code.
  AccessControlBadConfirmation: () => ({ code: 'REVERTED', message: 'renounceRole must name the calling account' }),
};

/** Decodes raw revert data (the `0x…` returned by a failed call). */
export function decodeRevertData(data: Hex | undefined): DecodedRevert {
  if (!data || data === '0x') return { code: 'REVERTED', message: 'reverted without a reason' };
  try {
    const { errorName, args } = decodeErrorResult({ abi: securityTokenAbi, data });
    const map = BY_ERROR[errorName];
    if (map) return map(args ?? []);
    return { code: 'REVERTED', message: `reverted: ${errorName}` };
  } catch {
    return { code: 'REVERTED', message: 'reverted with unrecognised data' };
  }
}

/** Decodes a viem error from a simulated or estimated call into a kagi code. */
export function decodeRevert(err: unknown): DecodedRevert {
  if (err instanceof BaseError) {
    const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      const name = reverted.data?.errorName;
      if (name && BY_ERROR[name]) return BY_ERROR[name](reverted.data?.args ?? []);
      if (reverted.raw) return decodeRevertData(reverted.raw);
      return { code: 'REVERTED', message: reverted.reason ? `reverted: ${reverted.reason}` : 'reverted' };
    }
    const withData = err.walk((e) => typeof (e as { data?: unknown }).data === 'string') as { data?: Hex } | null;
    if (withData?.data) return decodeRevertData(withData.data);
  }
  return { code: 'REVERTED', message: 'reverted' };
}
