/**
 * The SecurityToken rules every token with holder transfers has, on a real Anvil through
 * viem: every rule, the role invariants, and a property test of random operation sequences
 * against a model. Run against the frozen v1 artifact (tokens deployed before v2 stay on
 * chain and kagi serves them) and against v2 deployed with `holderTransfers: true`, where
 * v1's closed-register rule must hold unchanged. v2-only behaviour:
 * security-token-v2.e2e-spec.ts.
 */
import fc from 'fast-check';
import { zeroAddress, type Address } from 'viem';
import { describe, expect, it } from 'vitest';
import { type RevertCode } from '../../src/chain/contracts/revert-decoder';
import { custodyAddressOf } from '../../src/chain/custody-address';
import { acct, agent, AGENT_ROLE, attempt, deployV1, deployV2, governance, holders, outsider, read } from '../support/security-token';

const variants = [
  { name: 'v1 (frozen artifact)', deploy: deployV1 },
  {
    name: 'v2 with holderTransfers=true',
    deploy: () => deployV2({ holderTransfers: true, custody: custodyAddressOf('11111111-1111-4111-8111-111111111111') }),
  },
];

async function totalsMatch(token: Address, addrs: Address[]): Promise<void> {
  const balances = await Promise.all(addrs.map((a) => read<bigint>(token, 'balanceOf', [a])));
  expect(await read<bigint>(token, 'totalSupply')).toBe(balances.reduce((s, b) => s + b, 0n));
}

describe.each(variants)('SecurityToken on Anvil: $name', ({ deploy }) => {
  it('deploys with governance as admin and the signing key as agent only', async () => {
    const t = await deploy();
    expect(await read(t, 'decimals')).toBe(0);
    expect(await read(t, 'hasRole', [`0x${'00'.repeat(32)}`, governance.address])).toBe(true);
    expect(await read(t, 'hasRole', [AGENT_ROLE, agent.address])).toBe(true);
    expect(await read(t, 'hasRole', [`0x${'00'.repeat(32)}`, agent.address])).toBe(false);
    expect(await read(t, 'hasRole', [AGENT_ROLE, governance.address])).toBe(false);
  });

  it('lets only the agent mint, burn, force, freeze, verify, pause and recover', async () => {
    const t = await deploy();
    const [h1, h2] = [holders[0]!, holders[1]!];
    for (const who of [governance, h1, outsider]) {
      expect(await attempt(t, who, 'mint', [h1.address, 10n])).toBe('NOT_AGENT');
      expect(await attempt(t, who, 'burn', [h1.address, 1n])).toBe('NOT_AGENT');
      expect(await attempt(t, who, 'forcedTransfer', [h1.address, h2.address, 1n])).toBe('NOT_AGENT');
      expect(await attempt(t, who, 'setAddressFrozen', [h1.address, true])).toBe('NOT_AGENT');
      expect(await attempt(t, who, 'setAddressVerified', [h1.address, true])).toBe('NOT_AGENT');
      expect(await attempt(t, who, 'pause', [])).toBe('NOT_AGENT');
      expect(await attempt(t, who, 'recoveryAddress', [h1.address, h2.address])).toBe('NOT_AGENT');
    }
    expect(await attempt(t, agent, 'mint', [h1.address, 10n])).toBe('ok');
    expect(await read(t, 'isVerified', [h1.address])).toBe(true);
    expect(await read(t, 'totalSupply')).toBe(10n);
  });

  it('lets only the admin grant and revoke the agent role, so a lost signing key can be replaced', async () => {
    const t = await deploy();
    const newKey = acct(7);
    expect(await attempt(t, agent, 'grantRole', [AGENT_ROLE, newKey.address])).toBe('NOT_AGENT');
    expect(await attempt(t, governance, 'grantRole', [AGENT_ROLE, newKey.address])).toBe('ok');
    expect(await attempt(t, governance, 'revokeRole', [AGENT_ROLE, agent.address])).toBe('ok');
    expect(await attempt(t, agent, 'mint', [holders[0]!.address, 1n])).toBe('NOT_AGENT');
    expect(await attempt(t, newKey, 'mint', [holders[0]!.address, 1n])).toBe('ok');
  });

  it("keeps a copied cold key inside the register: unverified receivers and frozen holders can't move tokens", async () => {
    const t = await deploy();
    const [h1, h2] = [holders[0]!, holders[1]!];
    await attempt(t, agent, 'mint', [h1.address, 100n]);
    // receiver not registered
    expect(await attempt(t, h1, 'transfer', [outsider.address, 1n])).toBe('NOT_VERIFIED');
    // both registered: allowed
    await attempt(t, agent, 'setAddressVerified', [h2.address, true]);
    expect(await attempt(t, h1, 'transfer', [h2.address, 10n])).toBe('ok');
    // frozen sender, then frozen receiver
    await attempt(t, agent, 'setAddressFrozen', [h1.address, true]);
    expect(await read(t, 'isFrozen', [h1.address])).toBe(true);
    expect(await attempt(t, h1, 'transfer', [h2.address, 1n])).toBe('ADDRESS_FROZEN');
    expect(await attempt(t, h2, 'transfer', [h1.address, 1n])).toBe('ADDRESS_FROZEN');
    // unfreeze restores
    await attempt(t, agent, 'setAddressFrozen', [h1.address, false]);
    expect(await attempt(t, h1, 'transfer', [h2.address, 1n])).toBe('ok');
    // an unregistered holder cannot send either, even via transferFrom with allowance
    await attempt(t, agent, 'setAddressVerified', [h1.address, false]);
    expect(await attempt(t, h1, 'transfer', [h2.address, 1n])).toBe('NOT_VERIFIED');
    expect(await attempt(t, h1, 'approve', [h2.address, 5n])).toBe('ok');
    expect(await attempt(t, h2, 'transferFrom', [h1.address, h2.address, 1n])).toBe('NOT_VERIFIED');
    await totalsMatch(t, [h1.address, h2.address, outsider.address]);
  });

  it('agent operations ignore the sender freeze but refuse a frozen receiver, and register the receiver', async () => {
    const t = await deploy();
    const [h1, h2, h3] = [holders[0]!, holders[1]!, holders[2]!];
    await attempt(t, agent, 'mint', [h1.address, 50n]);
    await attempt(t, agent, 'setAddressFrozen', [h1.address, true]);
    expect(await attempt(t, agent, 'forcedTransfer', [h1.address, h2.address, 20n])).toBe('ok');
    expect(await read(t, 'isVerified', [h2.address])).toBe(true);
    expect(await attempt(t, agent, 'burn', [h1.address, 10n])).toBe('ok');
    await attempt(t, agent, 'setAddressFrozen', [h3.address, true]);
    expect(await attempt(t, agent, 'forcedTransfer', [h2.address, h3.address, 1n])).toBe('ADDRESS_FROZEN');
    expect(await attempt(t, agent, 'mint', [h3.address, 1n])).toBe('ADDRESS_FROZEN');
    expect(await read<bigint>(t, 'balanceOf', [h1.address])).toBe(20n);
    await totalsMatch(t, [h1.address, h2.address, h3.address]);
  });

  it('pause stops every balance change, agent ones included, until unpause', async () => {
    const t = await deploy();
    const [h1, h2] = [holders[0]!, holders[1]!];
    await attempt(t, agent, 'mint', [h1.address, 10n]);
    await attempt(t, agent, 'setAddressVerified', [h2.address, true]);
    expect(await attempt(t, agent, 'pause', [])).toBe('ok');
    expect(await read(t, 'paused')).toBe(true);
    expect(await attempt(t, agent, 'pause', [])).toBe('TOKEN_PAUSED');
    expect(await attempt(t, agent, 'mint', [h1.address, 1n])).toBe('TOKEN_PAUSED');
    expect(await attempt(t, agent, 'burn', [h1.address, 1n])).toBe('TOKEN_PAUSED');
    expect(await attempt(t, agent, 'forcedTransfer', [h1.address, h2.address, 1n])).toBe('TOKEN_PAUSED');
    expect(await attempt(t, h1, 'transfer', [h2.address, 1n])).toBe('TOKEN_PAUSED');
    expect(await attempt(t, agent, 'unpause', [])).toBe('ok');
    expect(await attempt(t, agent, 'unpause', [])).toBe('TOKEN_NOT_PAUSED');
    expect(await attempt(t, h1, 'transfer', [h2.address, 1n])).toBe('ok');
  });

  it('refuses transfers to self, to zero, of zero, and beyond the balance', async () => {
    const t = await deploy();
    const [h1, h2] = [holders[0]!, holders[1]!];
    await attempt(t, agent, 'mint', [h1.address, 5n]);
    await attempt(t, agent, 'setAddressVerified', [h2.address, true]);
    expect(await attempt(t, h1, 'transfer', [h1.address, 1n])).toBe('TRANSFER_TO_SELF');
    expect(await attempt(t, agent, 'forcedTransfer', [h1.address, h1.address, 1n])).toBe('TRANSFER_TO_SELF');
    expect(await attempt(t, h1, 'transfer', [zeroAddress, 1n])).toBe('ZERO_ADDRESS');
    expect(await attempt(t, agent, 'mint', [zeroAddress, 1n])).toBe('ZERO_ADDRESS');
    expect(await attempt(t, agent, 'mint', [h1.address, 0n])).toBe('ZERO_AMOUNT');
    expect(await attempt(t, h1, 'transfer', [h2.address, 6n])).toBe('INSUFFICIENT_BALANCE');
    expect(await attempt(t, agent, 'burn', [h1.address, 6n])).toBe('INSUFFICIENT_BALANCE');
  });

  it('recovery moves the whole balance, leaves the lost wallet at zero and frozen', async () => {
    const t = await deploy();
    const [lost, replacement] = [holders[0]!, holders[1]!];
    expect(await attempt(t, agent, 'recoveryAddress', [lost.address, replacement.address])).toBe('NOTHING_TO_RECOVER');
    await attempt(t, agent, 'mint', [lost.address, 77n]);
    expect(await attempt(t, agent, 'recoveryAddress', [lost.address, replacement.address])).toBe('ok');
    expect(await read<bigint>(t, 'balanceOf', [lost.address])).toBe(0n);
    expect(await read<bigint>(t, 'balanceOf', [replacement.address])).toBe(77n);
    expect(await read(t, 'isFrozen', [lost.address])).toBe(true);
    expect(await read(t, 'isVerified', [lost.address])).toBe(false);
    expect(await read(t, 'isVerified', [replacement.address])).toBe(true);
    // the copied paper key of the lost wallet can do nothing any more
    expect(await attempt(t, lost, 'transfer', [replacement.address, 1n])).not.toBe('ok');
  });

  it('property: random operation sequences keep chain == model and supply == sum of balances', async () => {
    const addrs = holders.map((h) => h.address);
    const op = fc.oneof(
      fc.record({ k: fc.constant('mint' as const), to: fc.nat(3), n: fc.bigInt(0n, 50n) }),
      fc.record({ k: fc.constant('burn' as const), from: fc.nat(3), n: fc.bigInt(0n, 50n) }),
      fc.record({ k: fc.constant('force' as const), from: fc.nat(3), to: fc.nat(3), n: fc.bigInt(0n, 50n) }),
      fc.record({ k: fc.constant('transfer' as const), from: fc.nat(3), to: fc.nat(3), n: fc.bigInt(0n, 50n) }),
      fc.record({ k: fc.constant('freeze' as const), who: fc.nat(3), v: fc.boolean() }),
      fc.record({ k: fc.constant('verify' as const), who: fc.nat(3), v: fc.boolean() }),
      fc.record({ k: fc.constant('pause' as const), v: fc.boolean() }),
      fc.record({ k: fc.constant('recover' as const), from: fc.nat(3), to: fc.nat(3) }),
    );
    const seed = Number(process.env.FC_SEED ?? Date.now() % 1_000_000);
    process.stderr.write(`[security-token property] fast-check seed ${seed}\n`);
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 8 }), async (ops) => {
        const t = await deploy();
        const m = { bal: [0n, 0n, 0n, 0n], frozen: [false, false, false, false], verified: [false, false, false, false], paused: false };
        for (const o of ops) {
          let expected: 'ok' | RevertCode;
          let got: 'ok' | RevertCode;
          switch (o.k) {
            case 'mint':
              expected = m.paused ? 'TOKEN_PAUSED' : o.n === 0n ? 'ZERO_AMOUNT' : m.frozen[o.to] ? 'ADDRESS_FROZEN' : 'ok';
              got = await attempt(t, agent, 'mint', [addrs[o.to], o.n]);
              if (got === 'ok') {
                m.bal[o.to] = m.bal[o.to]! + o.n;
                m.verified[o.to] = true;
              }
              break;
            case 'burn':
              expected = m.paused ? 'TOKEN_PAUSED' : o.n === 0n ? 'ZERO_AMOUNT' : m.bal[o.from]! < o.n ? 'INSUFFICIENT_BALANCE' : 'ok';
              got = await attempt(t, agent, 'burn', [addrs[o.from], o.n]);
              if (got === 'ok') m.bal[o.from] = m.bal[o.from]! - o.n;
              break;
            case 'force':
              expected = m.paused
                ? 'TOKEN_PAUSED'
                : o.n === 0n
                  ? 'ZERO_AMOUNT'
                  : o.from === o.to
                    ? 'TRANSFER_TO_SELF'
                    : m.frozen[o.to]
                      ? 'ADDRESS_FROZEN'
                      : m.bal[o.from]! < o.n
                        ? 'INSUFFICIENT_BALANCE'
                        : 'ok';
              got = await attempt(t, agent, 'forcedTransfer', [addrs[o.from], addrs[o.to], o.n]);
              if (got === 'ok') {
                m.bal[o.from] = m.bal[o.from]! - o.n;
                m.bal[o.to] = m.bal[o.to]! + o.n;
                m.verified[o.to] = true;
              }
              break;
            case 'transfer':
              expected = m.paused
                ? 'TOKEN_PAUSED'
                : o.n === 0n
                  ? 'ZERO_AMOUNT'
                  : o.from === o.to
                    ? 'TRANSFER_TO_SELF'
                    : m.frozen[o.from] || m.frozen[o.to]
                      ? 'ADDRESS_FROZEN'
                      : !m.verified[o.from] || !m.verified[o.to]
                        ? 'NOT_VERIFIED'
                        : m.bal[o.from]! < o.n
                          ? 'INSUFFICIENT_BALANCE'
                          : 'ok';
              got = await attempt(t, holders[o.from]!, 'transfer', [addrs[o.to], o.n]);
              if (got === 'ok') {
                m.bal[o.from] = m.bal[o.from]! - o.n;
                m.bal[o.to] = m.bal[o.to]! + o.n;
              }
              break;
            case 'freeze':
              expected = 'ok';
              got = await attempt(t, agent, 'setAddressFrozen', [addrs[o.who], o.v]);
              m.frozen[o.who] = o.v;
              break;
            case 'verify':
              expected = 'ok';
              got = await attempt(t, agent, 'setAddressVerified', [addrs[o.who], o.v]);
              m.verified[o.who] = o.v;
              break;
            case 'pause':
              expected = o.v ? (m.paused ? 'TOKEN_PAUSED' : 'ok') : m.paused ? 'ok' : 'TOKEN_NOT_PAUSED';
              got = await attempt(t, agent, o.v ? 'pause' : 'unpause', []);
              if (got === 'ok') m.paused = o.v;
              break;
            case 'recover':
              expected =
                m.bal[o.from] === 0n
                  ? 'NOTHING_TO_RECOVER'
                  : m.paused
                    ? 'TOKEN_PAUSED'
                    : o.from === o.to
                      ? 'TRANSFER_TO_SELF'
                      : m.frozen[o.to]
                        ? 'ADDRESS_FROZEN'
                        : 'ok';
              got = await attempt(t, agent, 'recoveryAddress', [addrs[o.from], addrs[o.to]]);
              if (got === 'ok') {
                m.bal[o.to] = m.bal[o.to]! + m.bal[o.from]!;
                m.bal[o.from] = 0n;
                m.frozen[o.from] = true;
                m.verified[o.from] = false;
                m.verified[o.to] = true;
              }
              break;
          }
          expect(
            got,
            JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
          ).toBe(expected);
          const chainBal = await Promise.all(addrs.map((a) => read<bigint>(t, 'balanceOf', [a])));
          expect(chainBal).toEqual(m.bal);
          expect(await read<bigint>(t, 'totalSupply')).toBe(m.bal.reduce((s, b) => s + b, 0n));
        }
      }),
      { numRuns: 40, seed },
    );
  }, 240_000);
});
