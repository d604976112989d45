/** Shared pieces of the hostile-input e2e files: the contract's error rules and tenant fixtures. */
import { expect } from 'vitest';
import { ERROR_CODES } from '../../src/common/error-codes';
import { http } from './app';
import { createOperator, type OperatorFixture } from './api';
import { WriteWatcher, type Snapshot } from './db';

const CONTRACT_CODES = new Set(Object.keys(ERROR_CODES));

/** No 5xx; an error is problem+json whose code is in the contract's table with that status. */
export function expectContractAnswer(label: string, status: number, contentType: string | null | undefined, json: any): void {
  expect(status, `${label}: ${JSON.stringify(json)?.slice(0, 300)}`).toBeGreaterThanOrEqual(200);
  expect(status, `${label}: ${JSON.stringify(json)?.slice(0, 300)}`).toBeLessThan(500);
  if (status < 400) return;
  expect(contentType ?? '', `${label}: content type`).toContain('application/problem+json');
  expect(CONTRACT_CODES.has(json?.code), `${label}: code ${json?.code}`).toBe(true);
  expect(json.status, `${label}: status field`).toBe(status);
  expect(ERROR_CODES[json.code as keyof typeof ERROR_CODES].status, `${label}: ${json.code} belongs to ${status}`).toBe(status);
}

/**
 * Runs one request that must be refused and checks it wrote nothing: every table (but the
 * refusal bookkeeping, see REFUSAL_BOOKKEEPING) unchanged, and no audit event other than
 * a failure or denial. Direct SQL: no API exposes row counts.
 */
export async function refusedWithoutWrites<T extends { status: number }>(
  watcher: WriteWatcher,
  label: string,
  send: () => Promise<T>,
  before?: Snapshot,
): Promise<T> {
  const b = before ?? (await watcher.quiet());
  const r = await send();
  expect(r.status, `${label}: expected a refusal`).toBeGreaterThanOrEqual(400);
  const after = await watcher.snapshot();
  expect(WriteWatcher.changed(b, after), `${label}: tables written by a refused request`).toEqual([]);
  expect(await watcher.auditSuccessesSince(b), `${label}: audit events of a refused request`).toEqual([]);
  return r;
}

export interface Tenant {
  op: OperatorFixture;
  /** An investor of this operator with a wallet, holding `held` units of `tokenId`. */
  userId: string;
  walletAddress: string;
  /** A second investor without a wallet. */
  pendingUserId: string;
  tokenId: string;
  tokenAddress: string;
  /** The confirmed issue transaction. */
  txId: string;
}

/** An operator with one investor (wallet issued, tokens held), one without a wallet, an active token and a transaction. */
export async function createTenant(base: string, admin: string, tag: string): Promise<Tenant> {
  const op = await createOperator(base, admin);
  const user = await http(base, 'POST', '/v1/users', {
    token: op.token,
    body: { name: `投資家 ${tag}`, email: `${tag}@example.jp`, externalRef: `ref-${tag}` },
  });
  expect(user.status, user.text).toBe(201);
  const wallet = await fetch(`${base}/v1/users/${user.body.id}/wallet`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(wallet.status).toBe(201);
  await wallet.arrayBuffer();
  const pending = await http(base, 'POST', '/v1/users', { token: op.token, body: { name: `未発行 ${tag}`, email: `p-${tag}@example.jp` } });
  const token = await http(base, 'POST', '/v1/tokens', {
    token: op.token,
    body: { name: `Token ${tag}`, symbol: tag.slice(0, 8).toUpperCase(), decimals: 0 },
    headers: { prefer: 'wait=60' },
  });
  // Set-up, not the behaviour under test: a loaded CI machine gets the contract's longest wait,
  // and a deployment still running says where it stands.
  if (token.body.status !== 'active' && token.body.deployTransactionId) {
    const tx = await http(base, 'GET', `/v1/transactions/${token.body.deployTransactionId}`, { token: op.token });
    expect(token.body.status, `${token.text}\ndeployment: ${tx.text}`).toBe('active');
  }
  expect(token.body.status, token.text).toBe('active');
  const tx = await http(base, 'POST', `/v1/tokens/${token.body.id}/issue`, {
    token: op.token,
    body: { userId: user.body.id, amount: '100' },
    headers: { prefer: 'wait=30' },
  });
  expect(tx.body.status, tx.text).toBe('confirmed');
  return {
    op,
    userId: user.body.id,
    walletAddress: wallet.headers.get('x-wallet-address') ?? '',
    pendingUserId: pending.body.id,
    tokenId: token.body.id,
    tokenAddress: token.body.address,
    txId: tx.body.id,
  };
}
