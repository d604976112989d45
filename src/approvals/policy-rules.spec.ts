import { describe, expect, it } from 'vitest';
import { lowers, requiredApprovals, type PolicyRule } from './policy-rules';

const none = () => Promise.resolve(0n);

describe('approval policy rules', () => {
  it('takes the largest approvals of the matching rules; thresholds need an amount', async () => {
    const rules: PolicyRule[] = [
      { kinds: ['forced-transfer'], minAmount: '100', approvals: 2 },
      { kinds: ['forced-transfer', 'freeze'], approvals: 1 },
      { kinds: ['redeem'], minAmount: '1', approvals: 3 },
    ];
    expect(await requiredApprovals(rules, 'forced-transfer', 99n, none)).toBe(1);
    expect(await requiredApprovals(rules, 'forced-transfer', 100n, none)).toBe(2);
    expect(await requiredApprovals(rules, 'freeze', undefined, none)).toBe(1);
    expect(await requiredApprovals(rules, 'issue', 10_000n, none)).toBe(0);
    // redeem without an amount (never the case) cannot match a threshold rule.
    expect(await requiredApprovals(rules, 'redeem', undefined, none)).toBe(0);
  });

  it('a 24h window adds what the firm already requested', async () => {
    const rules: PolicyRule[] = [{ kinds: ['transfer', 'forced-transfer'], minAmount: '500', window: '24h', approvals: 2 }];
    expect(await requiredApprovals(rules, 'transfer', 99n, () => Promise.resolve(396n))).toBe(0);
    expect(await requiredApprovals(rules, 'transfer', 99n, () => Promise.resolve(401n))).toBe(2);
  });

  it('knows a raise from a lowering', () => {
    const base: PolicyRule[] = [{ kinds: ['forced-transfer'], minAmount: '100', approvals: 2 }];
    expect(lowers([], base)).toBe(false);
    expect(lowers(base, [])).toBe(true);
    expect(lowers(base, [{ kinds: ['forced-transfer', 'redeem'], minAmount: '50', approvals: 3 }])).toBe(false);
    expect(lowers(base, [{ kinds: ['forced-transfer'], minAmount: '101', approvals: 2 }])).toBe(true);
    expect(lowers(base, [{ kinds: ['forced-transfer'], minAmount: '100', approvals: 1 }])).toBe(true);
    expect(lowers(base, [{ kinds: ['forced-transfer'], approvals: 2 }])).toBe(false);
    const windowed: PolicyRule[] = [{ kinds: ['transfer', 'redeem'], minAmount: '500', window: '24h', approvals: 2 }];
    expect(lowers(windowed, [{ kinds: ['transfer', 'redeem'], minAmount: '500', approvals: 2 }])).toBe(true);
    expect(lowers(windowed, [{ kinds: ['transfer'], minAmount: '500', window: '24h', approvals: 2 }])).toBe(true);
    expect(lowers(windowed, [{ kinds: ['transfer', 'redeem', 'issue'], minAmount: '400', window: '24h', approvals: 2 }])).toBe(false);
    // A rule without a threshold also covers freeze, which has no amount; a threshold rule does not.
    expect(lowers([{ kinds: ['freeze'], approvals: 1 }], [{ kinds: ['freeze'], minAmount: '1', approvals: 1 }])).toBe(true);
  });
});
