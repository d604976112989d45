/**
 * `npm run bench -- gas`: gas used per SecurityToken function, read from receipts on a
 * fresh Anvil (started here). Deterministic for a given compiler build.
 */
import { createPublicClient, createWalletClient, defineChain, http, type Address, type Hash } from 'viem';
import { mnemonicToAccount, type HDAccount } from 'viem/accounts';
import { securityTokenAbi, securityTokenBytecode } from '../src/chain/contracts/security-token.abi';
import { freePort, startAnvil } from '../dev/processes';
import type { BenchRow, Suite } from './run';

const MNEMONIC = 'test test test test test test test test test test test junk';

const suite: Suite = async () => {
  const anvil = await startAnvil({ port: await freePort() });
  try {
    const at = (i: number) => mnemonicToAccount(MNEMONIC, { addressIndex: i });
    const [gov, agent, h1, h2, h3] = [at(0), at(1), at(2), at(3), at(4)];
    const pub = createPublicClient({ transport: http(anvil.url), pollingInterval: 50 });
    const anvilChain = defineChain({
      id: 31337,
      name: 'anvil',
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [anvil.url] } },
    });
    const w = (a: HDAccount) => createWalletClient({ account: a, transport: http(anvil.url), chain: anvilChain });
    const rows: BenchRow[] = [];
    const gas = async (fn: string, hash: Hash) => {
      const r = await pub.waitForTransactionReceipt({ hash });
      if (r.status !== 'success') throw new Error(`${fn} reverted`);
      rows.push({ function: fn, gasUsed: Number(r.gasUsed) });
      return r;
    };
    const deployed = await gas(
      'deploy',
      await w(gov).deployContract({
        abi: securityTokenAbi,
        bytecode: securityTokenBytecode,
        args: ['Bench', 'BNC', 0, gov.address, agent.address],
      }),
    );
    const token = deployed.contractAddress as Address;
    const call = (from: HDAccount, fn: string, args: readonly unknown[]) =>
      w(from).writeContract({ address: token, abi: securityTokenAbi, functionName: fn as never, args: args });
    await gas('mint (new holder)', await call(agent, 'mint', [h1.address, 1000n]));
    await gas('mint (existing holder)', await call(agent, 'mint', [h1.address, 1000n]));
    await gas('forcedTransfer (new receiver)', await call(agent, 'forcedTransfer', [h1.address, h2.address, 10n]));
    await gas('forcedTransfer (existing receiver)', await call(agent, 'forcedTransfer', [h1.address, h2.address, 10n]));
    await gas('transfer (holder, cold key)', await call(h1, 'transfer', [h2.address, 5n]));
    await gas('burn', await call(agent, 'burn', [h1.address, 5n]));
    await gas('setAddressVerified', await call(agent, 'setAddressVerified', [h3.address, true]));
    await gas('setAddressFrozen (freeze)', await call(agent, 'setAddressFrozen', [h2.address, true]));
    await gas('setAddressFrozen (unfreeze)', await call(agent, 'setAddressFrozen', [h2.address, false]));
    await gas('pause', await call(agent, 'pause', []));
    await gas('unpause', await call(agent, 'unpause', []));
    await gas('recoveryAddress', await call(agent, 'recoveryAddress', [h1.address, h3.address]));
    return { settings: { compiler: 'solc 0.8.28, optimizer 200 runs, evm paris', chain: 'anvil' }, rows };
  } finally {
    await anvil.stop();
  }
};

export default suite;
