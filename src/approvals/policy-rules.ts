/**
 * The pure rules of approval policies (no I/O, unit-tested): which rules match a request, and
 * whether a new policy is at least as strict as the old one for every possible request (if not,
 * it lowers the policy: a control change for a firm, a second admin for the platform floor).
 */

/** Kinds a rule may name (the contract's list; batch rows and order operations count as their kind). */
export const RULE_KINDS = [
  'issue',
  'transfer',
  'forced-transfer',
  'deposit',
  'withdraw',
  'redeem',
  'freeze',
  'unfreeze',
  'pause',
  'unpause',
  'recover',
] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export interface PolicyRule {
  kinds: RuleKind[];
  /** Decimal string of base units; absent: any request of those kinds (also kinds without an amount). */
  minAmount?: string;
  /** `24h`: the amount is the sum of the firm's accepted and pending requests of these kinds on the token in the last 24 h, this one included. */
  window?: '24h';
  approvals: number;
}

export interface Policy {
  rules: PolicyRule[];
}

export const WINDOW_SECONDS = { '24h': 86_400 } as const;

/** The rules that could match a request of `kind` (before amounts are compared). */
export function rulesFor(rules: readonly PolicyRule[], kind: string): PolicyRule[] {
  return rules.filter((r) => (r.kinds as readonly string[]).includes(kind));
}

/**
 * Approvals a request needs: the largest `approvals` of the matching rules. `windowSum(rule)`
 * gives what the firm already requested in the rule's window (called only for windowed rules
 * that could still raise the answer); kinds without an amount match only rules without minAmount.
 */
export async function requiredApprovals(
  rules: readonly PolicyRule[],
  kind: string,
  amount: bigint | undefined,
  windowSum: (rule: PolicyRule) => Promise<bigint>,
): Promise<number> {
  let required = 0;
  for (const r of rulesFor(rules, kind).sort((a, b) => b.approvals - a.approvals)) {
    if (r.approvals <= required) continue;
    if (r.minAmount === undefined) {
      required = r.approvals;
      continue;
    }
    if (amount === undefined) continue;
    const counted = r.window ? amount + (await windowSum(r)) : amount;
    if (counted >= BigInt(r.minAmount)) required = r.approvals;
  }
  return required;
}

/** True when `next` might need fewer approvals than `prev` for some request. */
export function lowers(prev: readonly PolicyRule[], next: readonly PolicyRule[]): boolean {
  return prev.some((old) => old.kinds.some((k) => !next.some((n) => covers(n, old, k))));
}

/** `n` needs at least what `old` needs for every request of `kind` that `old` matches. */
function covers(n: PolicyRule, old: PolicyRule, kind: RuleKind): boolean {
  if (!n.kinds.includes(kind) || n.approvals < old.approvals) return false;
  if (n.minAmount !== undefined) {
    // A rule with a threshold never matches kinds without an amount, which `old` (without one) may.
    if (old.minAmount === undefined || BigInt(n.minAmount) > BigInt(old.minAmount)) return false;
  }
  // A window sums what came before: without one (or over fewer kinds) `n` counts less than `old`.
  if (old.window && n.minAmount !== undefined) {
    if (!n.window || !old.kinds.every((k) => n.kinds.includes(k))) return false;
  }
  return true;
}
