/**
 * What every fault runs against, built over HTTP as an operator back office would: an
 * admin, one operator (its own signer), holders with paper wallets, one token, and
 * seed balances large enough that no operation of the workload can legitimately fail
 * (every debit is tiny next to the seeded balances, and the frozen user never
 * receives), so an operation that ends `failed` is a finding, not noise.
 * Collects every secret it learns for the log scans.
 */
import { getAddress, type Address } from 'viem';
import { AwsKms } from '../../../src/kms/aws-kms';
import { DataKeyCache } from '../../../src/kms/data-key-cache';
import { Envelope } from '../../../src/kms/envelope';
import { signingKeyContext } from '../../../src/kms/signing-keys';
import { Metrics } from '../../../src/common/metrics';
import { loadConfig } from '../../../src/config/app-config';
import { pdfText, printedPrivateKey } from '../../support/pdf';
import type { Http } from './client';
import { ADMIN, JWT_SIGNING_KEY, type Stack } from './stack';

export const SEED_ISSUE = 1_000_000n;
export const SEED_CUSTODY = 100_000n;

export interface Holder {
  id: string;
  address: Address;
}

export interface Fixture {
  admin: string;
  operator: { id: string; loginId: string; password: string; token: string; signer: Address; custody: Address };
  /** Receive and send in the workload; never frozen. */
  holders: Holder[];
  /** Frozen and unfrozen by the workload; only ever debited, so freezing it never fails a credit. */
  frozen: Holder;
  token: { id: string; address: Address; deployTransactionId: string };
  /** Every transaction id the fixture itself created (deploy and seeds). */
  setupTxIds: string[];
  secrets: Uint8Array[];
}

function expectStatus(a: { status: number; text: string }, want: number[], what: string): void {
  if (!want.includes(a.status)) throw new Error(`${what}: expected ${want.join('/')} but got ${a.status} ${a.text.slice(0, 300)}`);
}

async function login(http: Http, loginId: string, password: string): Promise<string> {
  const r = await http.call('POST', '/v1/auth/login', { body: { loginId, password } });
  expectStatus(r, [200], `login ${loginId}`);
  return r.body.accessToken as string;
}

export async function createFixture(http: Http, stack: Stack, opts: { holders?: number; tag: string }): Promise<Fixture> {
  const secrets: Uint8Array[] = [Buffer.from(JWT_SIGNING_KEY), Buffer.from(ADMIN.password)];
  const admin = await login(http, ADMIN.loginId, ADMIN.password);
  const password = `pw-${opts.tag}-${Date.now().toString(36)}-long`;
  const loginId = `op-${opts.tag}`;
  const op = await http.call('POST', '/v1/operators', {
    token: admin,
    body: { name: '信頼性証券', email: `${loginId}@example.jp`, password, loginId },
  });
  expectStatus(op, [201], 'create operator');
  // A password set by the admin must be changed at the first login (the firm's own from then on).
  const first = await login(http, loginId, password);
  const own = `${password}-own`;
  const changed = await http.call('POST', '/v1/auth/password', { token: first, body: { currentPassword: password, newPassword: own } });
  expectStatus(changed, [204], 'change the first password');
  const token = await login(http, loginId, own);
  secrets.push(Buffer.from(password), Buffer.from(own), Buffer.from(admin), Buffer.from(first), Buffer.from(token));
  const people: Holder[] = [];
  for (let i = 0; i <= (opts.holders ?? 4); i++) {
    const u = await http.call('POST', '/v1/users', {
      token,
      body: { name: `投資家 ${i}`, email: `investor${i}.${opts.tag}@example.jp`, externalRef: `${opts.tag}-${i}` },
    });
    expectStatus(u, [201], 'create user');
    const w = await http.call('POST', `/v1/users/${u.body.id}/wallet`, { token: admin, body: {} });
    expectStatus(w, [201], 'issue wallet');
    // The paper wallet's private key: read back from the PDF, only to look for it in the logs.
    const key = printedPrivateKey(await pdfText(new Uint8Array(w.body as Buffer)));
    secrets.push(Buffer.from(key.slice(2), 'hex'));
    people.push({ id: u.body.id, address: getAddress(w.headers.get('x-wallet-address')!) });
  }
  const frozen = people.pop()!;
  const tk = await http.call('POST', '/v1/tokens', {
    token,
    body: { name: `Reliability ${opts.tag}`, symbol: 'REL', decimals: 0 },
    headers: { prefer: 'wait=60', 'idempotency-key': `${opts.tag}-deploy` },
  });
  expectStatus(tk, [200], 'deploy token');
  if (tk.body.status !== 'active') throw new Error(`token not active: ${tk.text}`);
  const tokenId = tk.body.id as string;
  const setupTxIds = [tk.body.deployTransactionId as string];
  const seed = async (kind: string, body: Record<string, unknown>, key: string) => {
    const r = await http.call('POST', `/v1/tokens/${tokenId}/${kind}`, {
      token,
      body,
      headers: { prefer: 'wait=60', 'idempotency-key': `${opts.tag}-${key}` },
    });
    expectStatus(r, [200], `seed ${kind}`);
    if (r.body.status !== 'confirmed') throw new Error(`seed ${kind} not confirmed: ${r.text}`);
    setupTxIds.push(r.body.id as string);
  };
  for (const [i, h] of [...people, frozen].entries())
    await seed('issue', { userId: h.id, amount: SEED_ISSUE.toString() }, `seed-issue-${i}`);
  for (const [i, h] of people.entries()) await seed('deposit', { userId: h.id, amount: SEED_CUSTODY.toString() }, `seed-deposit-${i}`);
  secrets.push(await operatorSigningKey(stack, op.body.id as string, getAddress(op.body.signerAddress as string)));
  return {
    admin,
    operator: {
      id: op.body.id,
      loginId,
      password: own,
      token,
      signer: getAddress(op.body.signerAddress as string),
      // The firm's keyless custody address, as the API answers it (never the signing address).
      custody: getAddress(op.body.custodyAddress as string),
    },
    holders: people,
    frozen,
    token: { id: tokenId, address: getAddress(tk.body.address as string), deployTransactionId: tk.body.deployTransactionId },
    setupTxIds,
    secrets,
  };
}

/**
 * The operator's signing key, opened test-side (direct SQL for the sealed columns, which
 * no API exposes by design; moto for the data key) only so the log scans can look for it.
 */
async function operatorSigningKey(stack: Stack, operatorId: string, address: Address): Promise<Buffer> {
  const [row] = await stack.pg.query<{ encrypted_key: Buffer; encrypted_data_key: Buffer; kms_key_id: string }>(
    'SELECT encrypted_key, encrypted_data_key, kms_key_id FROM operators WHERE id = $1',
    [operatorId],
  );
  if (!row) throw new Error('operator row not found');
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  const config = loadConfig({
    NODE_ENV: 'test',
    KMS_PROVIDER: 'aws',
    KMS_ENDPOINT: stack.kms.url,
    KMS_KEY_ID: stack.kms.keyId,
    AWS_REGION: stack.kms.region,
    DATABASE_URL: stack.pg.databaseUrl,
    CHAIN_RPC_URL: stack.chain.url,
  });
  const envelope = new Envelope(new AwsKms(config), new DataKeyCache(config), new Metrics());
  return envelope.open(
    { encryptedKey: row.encrypted_key, encryptedDataKey: row.encrypted_data_key, kmsKeyId: row.kms_key_id },
    signingKeyContext({ kind: 'operator', id: operatorId }, address),
  );
}
