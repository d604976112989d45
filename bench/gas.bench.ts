/**
 * `npm run bench -- gas`: gas used per SecurityToken function, read from receipts on a
 * fresh Anvil (started here), and per row of each batch function: a batch of 1, 10 and
 * 100 rows, the marginal gas of a row ((gas(100) − gas(1)) / 99) next to the single call
 * it replaces, and whether 100 rows fit a 30M block. Deterministic for a given compiler build.
 */
import { createPublicClient, createWalletClient, defineChain, http, keccak256, slice, toHex, type Address, type Hash } from 'viem';
import { mnemonicToAccount, type HDAccount } from 'viem/accounts';
import { securityTokenAbi, securityTokenBytecode } from '../src/chain/contracts/security-token.abi';
import { custodyAddressOf } from '../src/chain/custody-address';
import { freePort, startAnvil } from '../dev/processes';
import type { BenchRow, Suite } from './run';

const MNEMONIC = 'test test test test test test test test test test test junk';
const BLOCK_GAS_LIMIT = 30_000_000;
const SIZES = [1, 10, 100] as const;

/** The i-th of a deterministic series of distinct holder addresses (no key needed: agents move them). */
const holderAt = (i: number): Address => slice(keccak256(toHex(`gas-bench-holder-${i}`)), 12);

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
        // holderTransfers on, so the holder's own transfer can be measured too.
        args: ['Bench', 'BNC', 0, gov.address, agent.address, true, custodyAddressOf('00000000-0000-4000-8000-000000000000')],
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
    await gas('governancePause', await call(gov, 'governancePause', []));
    await gas('governanceUnpause', await call(gov, 'governanceUnpause', []));

    // Batches: each scenario runs at 1, 10 and 100 rows on fresh holders, every row valid.
    let next = 0;
    const fresh = (n: number) => Array.from({ length: n }, () => holderAt(next++));
    const single = (fn: string) => rows.find((r) => r.function === fn)?.gasUsed ?? null;
    const notes: string[] = [];
    const batch = async (label: string, twin: string, run: (n: number) => Promise<Hash>) => {
      const used: Record<number, number> = {};
      for (const n of SIZES) {
        const r = await pub.waitForTransactionReceipt({ hash: await run(n) });
        if (r.status !== 'success') throw new Error(`${label} (${n} rows) reverted`);
        used[n] = Number(r.gasUsed);
      }
      const perRow = Math.round((used[100]! - used[1]!) / 99);
      rows.push({
        function: label,
        'gas 1 row': used[1]!,
        'gas 10 rows': used[10]!,
        'gas 100 rows': used[100]!,
        'gas per row': perRow,
        'single call': single(twin),
        '100 rows / 30M block': Number(((used[100]! / BLOCK_GAS_LIMIT) * 100).toFixed(1)),
      });
      if (used[100]! >= BLOCK_GAS_LIMIT / 2) notes.push(`${label}: 100 rows use ${used[100]} gas, over half a 30M block`);
    };
    const amounts = (n: number, v: bigint) => Array.from({ length: n }, () => v);
    // Holders minted once per size, reused by the scenarios that need existing balances.
    const minted: Record<number, Address[]> = {};
    await batch('batchMint (new holders)', 'mint (new holder)', async (n) => {
      minted[n] = fresh(n);
      return call(agent, 'batchMint', [minted[n], amounts(n, 1000n)]);
    });
    await batch('batchMint (existing holders)', 'mint (existing holder)', (n) => call(agent, 'batchMint', [minted[n], amounts(n, 1000n)]));
    const receivers: Record<number, Address[]> = {};
    await batch('batchForcedTransfer (new receivers)', 'forcedTransfer (new receiver)', async (n) => {
      receivers[n] = fresh(n);
      return call(agent, 'batchForcedTransfer', [minted[n], receivers[n], amounts(n, 10n)]);
    });
    await batch('batchForcedTransfer (existing receivers)', 'forcedTransfer (existing receiver)', (n) =>
      call(agent, 'batchForcedTransfer', [minted[n], receivers[n], amounts(n, 10n)]),
    );
    await batch('batchBurn', 'burn', (n) => call(agent, 'batchBurn', [minted[n], amounts(n, 5n)]));
    await batch('batchSetAddressFrozen (freeze)', 'setAddressFrozen (freeze)', (n) =>
      call(agent, 'batchSetAddressFrozen', [minted[n], Array.from({ length: n }, () => true)]),
    );
    await batch('batchSetAddressFrozen (unfreeze)', 'setAddressFrozen (unfreeze)', (n) =>
      call(agent, 'batchSetAddressFrozen', [minted[n], Array.from({ length: n }, () => false)]),
    );
    notes.push(
      "'gas per row' = (gas of 100 rows − gas of 1 row) / 99: what one more row costs inside a batch; " +
        "'single call' = the same row as its own transaction (21,000 base included); '100 rows / 30M block' in percent",
    );
    return {
      settings: { compiler: 'solc 0.8.28, optimizer 200 runs, evm paris', chain: 'anvil', blockGasLimit: BLOCK_GAS_LIMIT },
      rows,
      notes,
    };
  } finally {
    await anvil.stop();
  }
};

export default suite;
