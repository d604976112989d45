/**
 * Helpers shared by the four-eyes e2e specs (approvals on transactions, batches and orders):
 * members with roles, investors with wallets, and independent chain reads. They drive kagi over
 * HTTP only, as an operator back office would.
 */
import { type Address, type PublicClient } from 'viem';
import { expect } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { http } from './app';
import { uniq, type OperatorFixture } from './api';

export interface Member {
  id: string;
  token: string;
}

export interface Investor {
  id: string;
  address: Address;
}

/** A new activated staff member of the firm with `roles` (created by its firm-admin). */
export async function addMember(base: string, f: OperatorFixture, roles: string[]): Promise<Member> {
  const loginId = uniq('staff');
  const created = await http(base, 'POST', `/v1/operators/${f.id}/staff`, {
    token: f.token,
    body: { loginId, name: 'チェッカー', email: `${loginId}@example.jp`, roles },
  });
  expect(created.status, created.text).toBe(201);
  const act = await http(base, 'POST', '/v1/auth/activate', {
    body: { loginId, activationCode: created.body.activationCode, newPassword: `member-${uniq('pw')}` },
  });
  expect(act.status, act.text).toBe(200);
  return { id: created.body.staff.id, token: act.body.accessToken };
}

/** A user of the firm with a wallet issued over HTTP (by an admin). */
export async function investor(base: string, admin: string, f: OperatorFixture, name: string): Promise<Investor> {
  const u = await http(base, 'POST', '/v1/users', { token: f.token, body: { name, email: 'i@example.jp' } });
  expect(u.status, u.text).toBe(201);
  const w = await fetch(`${base}/v1/users/${u.body.id}/wallet`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(w.status).toBe(201);
  await w.arrayBuffer();
  return { id: u.body.id as string, address: w.headers.get('x-wallet-address') as Address };
}

/** A holder's balance read straight from the chain (not through kagi). */
export const balanceOf = (chain: PublicClient, token: Address, holder: Address): Promise<bigint> =>
  chain.readContract({ address: token, abi: securityTokenAbi, functionName: 'balanceOf', args: [holder] });

/** The number of `key.open` audit events whose purpose names the transaction (none before the last approval). */
export async function keyOpenings(base: string, admin: string, txId: string): Promise<number> {
  const r = await http(base, 'GET', '/v1/audit-events?action=key.open&limit=100', { token: admin });
  return (r.body.items as Array<{ details: { purpose?: string } }>).filter((e) => e.details.purpose?.includes(txId)).length;
}
