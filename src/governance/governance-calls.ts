/**
 * What governance transactions call, built when the row is signed (as every row is) from its
 * stored arguments. Used by the API's pipeline (GOVERNANCE_SIGNER=local) and by the governance
 * process, which has no token catalogue: it knows only these calls.
 */
import { encodeFunctionData, getAddress, isAddress, keccak256, toHex, type Hex } from 'viem';
import { securityTokenAbi } from '../chain/contracts/security-token.abi';
import type { BuiltCall, CallBuilder } from '../transactions/hooks';
import type { QueuedRow } from '../transactions/pipeline/types';

export const AGENT_ROLE: Hex = keccak256(toHex('AGENT_ROLE'));

/** The signer id of governance rows when governance is not a sealed key (kms, external). */
export const GOVERNANCE_SIGNER_ID = '00000000-0000-0000-0000-000000000000';

/** Transaction kinds governance signs. `pause`/`unpause` are the v1 path (governance holding the agent role for it). */
export type GovernanceKind = 'grant-agent' | 'revoke-agent' | 'governance-pause' | 'governance-unpause' | 'pause' | 'unpause';

/** One call from a governance row's stored arguments; a row that cannot be built fails with the reason. */
export function governanceCall(row: Pick<QueuedRow, 'kind' | 'toAddress' | 'callArgs'>): BuiltCall {
  const to = row.toAddress;
  if (!to) return { failed: true, code: 'INTERNAL', message: `governance ${row.kind} names no token` };
  const account = row.callArgs?.account;
  const needsAccount = row.kind === 'grant-agent' || row.kind === 'revoke-agent';
  if (needsAccount && (typeof account !== 'string' || !isAddress(account, { strict: false })))
    return { failed: true, code: 'INTERNAL', message: `governance ${row.kind} names no account` };
  switch (row.kind) {
    case 'grant-agent':
      return {
        to,
        data: encodeFunctionData({ abi: securityTokenAbi, functionName: 'grantRole', args: [AGENT_ROLE, getAddress(account as string)] }),
      };
    case 'revoke-agent':
      return {
        to,
        data: encodeFunctionData({ abi: securityTokenAbi, functionName: 'revokeRole', args: [AGENT_ROLE, getAddress(account as string)] }),
      };
    case 'governance-pause':
      return { to, data: encodeFunctionData({ abi: securityTokenAbi, functionName: 'governancePause' }) };
    case 'governance-unpause':
      return { to, data: encodeFunctionData({ abi: securityTokenAbi, functionName: 'governanceUnpause' }) };
    case 'pause':
      return { to, data: encodeFunctionData({ abi: securityTokenAbi, functionName: 'pause' }) };
    case 'unpause':
      return { to, data: encodeFunctionData({ abi: securityTokenAbi, functionName: 'unpause' }) };
    default:
      return { failed: true, code: 'INTERNAL', message: `governance does not sign ${row.kind}` };
  }
}

export const governanceCallBuilder: CallBuilder = {
  build: (rows) => Promise.resolve(rows.map((r) => governanceCall(r))),
};
