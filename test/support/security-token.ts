/**
 * Deploying and driving SecurityToken contracts on the e2e Anvil through viem, for the
 * contract tests: v2 from the generated ABI, v1 from the frozen fixture
 * (contracts/artifacts/SecurityTokenV1.json). Accounts come from Anvil's public dev
 * mnemonic (test-only keys).
 */
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  keccak256,
  parseEventLogs,
  toHex,
  type Address,
  type Hash,
  type Hex,
  type PrivateKeyAccount,
  type PublicClient,
  type TransactionReceipt,
} from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { expect, inject } from 'vitest';
import v1Artifact from '../../contracts/artifacts/SecurityTokenV1.json';
import { decodeRevert, type RevertCode } from '../../src/chain/contracts/revert-decoder';
import { securityTokenAbi, securityTokenBytecode } from '../../src/chain/contracts/security-token.abi';
import { securityTokenV1Abi } from '../../src/chain/contracts/security-token-v1.abi';

const MNEMONIC = 'test test test test test test test test test test test junk';
export const acct = (i: number) => mnemonicToAccount(MNEMONIC, { addressIndex: i }) as unknown as PrivateKeyAccount;
export const governance = acct(0);
export const agent = acct(1);
export const holders = [acct(2), acct(3), acct(4), acct(5)];
export const outsider = acct(6);
export const AGENT_ROLE = keccak256(toHex('AGENT_ROLE'));
export const ADMIN_ROLE: Hex = `0x${'00'.repeat(32)}`;

let client: PublicClient | undefined;
export const pub = (): PublicClient => (client ??= createPublicClient({ transport: http(inject('rpcUrl')), pollingInterval: 50 }));

/** The test chain for wallet clients (without importing viem/chains, whose types pull in ox's TS sources). */
export const anvilChain = () =>
  defineChain({
    id: inject('chainId'),
    name: 'anvil',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [inject('rpcUrl')] } },
  });
const wallet = (a: PrivateKeyAccount) => createWalletClient({ account: a, transport: http(inject('rpcUrl')), chain: anvilChain() });

async function mined(hash: Hash): Promise<TransactionReceipt> {
  const r = await pub().waitForTransactionReceipt({ hash, pollingInterval: 50 });
  expect(r.status).toBe('success');
  return r;
}

/** A version 2 token: governance admin, `agent` the agent, `custody` registered at deployment. */
export async function deployV2(opts: { holderTransfers: boolean; custody: Address; agent?: Address }): Promise<Address> {
  const hash = await wallet(governance).deployContract({
    abi: securityTokenAbi,
    bytecode: securityTokenBytecode,
    args: ['Kagi Bond 2030', 'KB30', 0, governance.address, opts.agent ?? agent.address, opts.holderTransfers, opts.custody],
  });
  return (await mined(hash)).contractAddress!;
}

/**
 * A version 1 token, deployed from the frozen v1 artifact exactly as tokens were before v2:
 * `admin` (default: the test governance account) the admin, `agent` (default: the test agent)
 * the agent.
 */
export async function deployV1(opts: { agent?: Address; admin?: Address; name?: string; symbol?: string } = {}): Promise<Address> {
  const hash = await wallet(governance).deployContract({
    abi: securityTokenV1Abi,
    bytecode: v1Artifact.bytecode as Hex,
    args: [opts.name ?? 'Kagi Bond 2030', opts.symbol ?? 'KB30', 0, opts.admin ?? governance.address, opts.agent ?? agent.address],
  });
  return (await mined(hash)).contractAddress!;
}

export type Outcome = 'ok' | RevertCode;

/**
 * Sends `fn` as `from` if a simulation passes and returns 'ok' with the receipt; returns the
 * decoded refusal code otherwise (nothing sent). v2 ABI: v1's functions encode the same.
 */
export async function send(
  token: Address,
  from: PrivateKeyAccount,
  functionName: string,
  args: readonly unknown[],
): Promise<{ outcome: Outcome; receipt?: TransactionReceipt }> {
  try {
    await pub().simulateContract({ address: token, abi: securityTokenAbi, functionName: functionName as never, args: args, account: from });
  } catch (e) {
    return { outcome: decodeRevert(e).code };
  }
  const hash = await wallet(from).writeContract({ address: token, abi: securityTokenAbi, functionName: functionName as never, args: args });
  return { outcome: 'ok', receipt: await mined(hash) };
}

export async function attempt(token: Address, from: PrivateKeyAccount, functionName: string, args: readonly unknown[]): Promise<Outcome> {
  return (await send(token, from, functionName, args)).outcome;
}

export const read = <T>(token: Address, functionName: string, args: readonly unknown[] = []) =>
  pub().readContract({ address: token, abi: securityTokenAbi, functionName: functionName as never, args: args }) as Promise<T>;

/** The token's events in a receipt as `Name(arg,...)` strings, for comparing effects. */
export function events(receipt: TransactionReceipt): string[] {
  return parseEventLogs({ abi: securityTokenAbi, logs: receipt.logs }).map(
    (l) =>
      `${l.eventName}(${Object.values(l.args as Record<string, unknown>)
        .map(String)
        .join(',')})`,
  );
}

/** Everything the register holds about `addrs`, read back from the chain. */
export async function registerState(token: Address, addrs: readonly Address[]) {
  const per = await Promise.all(
    addrs.map(async (a) => ({
      balance: await read<bigint>(token, 'balanceOf', [a]),
      frozen: await read<boolean>(token, 'isFrozen', [a]),
      verified: await read<boolean>(token, 'isVerified', [a]),
    })),
  );
  return { holders: per, totalSupply: await read<bigint>(token, 'totalSupply'), paused: await read<boolean>(token, 'paused') };
}
