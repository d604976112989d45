/**
 * Governance wired end to end with GOVERNANCE_SIGNER=kms: an AWS KMS ECC_SECG_P256K1 key
 * (moto with AWS's DIGEST semantics, test/support/moto-as-aws.ts) used through `Sign` by the
 * governance process (`dist/src/governance/main.js`, its own process), while the API only
 * queues governance rows. Checked from outside: the key's address is computed in the test from
 * GetPublicKey; roles, flags and senders are read with independent viem calls.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { CreateKeyCommand, GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { createPublicClient, getAddress, http as viemHttp, keccak256, toHex, type Address, type PublicClient } from 'viem';
import { publicKeyToAddress } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { createTestApp, http, testEnv, type TestApp } from '../support/app';
import { adminToken, createOperator, type OperatorFixture } from '../support/api';
import { dropDatabase, freshDatabase } from '../support/db';
import { startMotoAsAws } from '../support/moto-as-aws';
import { recordChild } from '../support/recording';

const root = process.cwd();
const WAIT = { prefer: 'wait=30' };
const AGENT_ROLE = keccak256(toHex('AGENT_ROLE'));
const ADMIN_ROLE = `0x${'00'.repeat(32)}` as const;
const SPKI_SECP256K1_PREFIX = '3056301006072a8648ce3d020106052b8104000a034200';

function startGovernance(env: Record<string, string | undefined>): { child: ChildProcess; ready: Promise<Address>; lines: string[] } {
  const child = spawn(process.execPath, [join(root, 'dist', 'src', 'governance', 'main.js')], {
    env: { ...process.env, ...env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  recordChild(child, ['kagi governance']);
  const lines: string[] = [];
  const ready = new Promise<Address>((resolve, reject) => {
    const onData = (d: Buffer) => {
      for (const l of d.toString('utf8').split('\n')) {
        if (!l) continue;
        lines.push(l);
        const m = /governance signer kms ready address=(0x[0-9a-fA-F]{40})/.exec(l);
        if (m) resolve(getAddress(m[1]!));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`governance process exited ${code}: ${lines.slice(-5).join('\n')}`)));
    setTimeout(() => reject(new Error(`governance process not ready: ${lines.slice(-5).join('\n')}`)), 60_000).unref();
  });
  return { child, ready, lines };
}

describe('governance signer wired: KMS Sign in its own process', () => {
  let moto: { url: string; stop: () => void };
  let kms: KMSClient;
  let env: Record<string, string | undefined>;
  let gov: ReturnType<typeof startGovernance>;
  let t: TestApp;
  let admin: string;
  let op: OperatorFixture;
  let chain: PublicClient;
  let kmsAddress: Address;
  let token: { id: string; address: Address };

  const read = <T>(address: Address, fn: string, args: readonly unknown[] = []) =>
    chain.readContract({ address, abi: securityTokenAbi, functionName: fn as never, args }) as Promise<T>;

  async function txOf(id: string) {
    return (await http(t.url, 'GET', `/v1/transactions/${id}`, { token: admin })).body as {
      status: string;
      from: string;
      txHash: `0x${string}`;
    };
  }

  let databaseUrl: string | undefined;
  beforeAll(async () => {
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'ignore' });
    moto = await startMotoAsAws();
    kms = new KMSClient({ endpoint: moto.url, region: inject('kmsRegion'), credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const master = await kms.send(new CreateKeyCommand({ Description: 'kagi e2e master (governance file)' }));
    const governance = await kms.send(
      new CreateKeyCommand({ KeySpec: 'ECC_SECG_P256K1', KeyUsage: 'SIGN_VERIFY', Description: 'kagi e2e governance' }),
    );
    const spki = Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: governance.KeyMetadata!.Arn! }))).PublicKey!).toString('hex');
    expect(spki.startsWith(SPKI_SECP256K1_PREFIX)).toBe(true);
    kmsAddress = publicKeyToAddress(`0x${spki.slice(SPKI_SECP256K1_PREFIX.length)}`);
    // A database of its own, dropped afterwards: its envelopes are sealed under this file's own
    // KMS server, which the run's secret sweep (against the shared KMS) could not open.
    databaseUrl = await freshDatabase('governance');
    const over = {
      DATABASE_URL: databaseUrl,
      KMS_ENDPOINT: moto.url,
      KMS_KEY_ID: master.KeyMetadata!.Arn!,
      GOVERNANCE_SIGNER: 'kms',
      GOVERNANCE_KMS_KEY_ID: governance.KeyMetadata!.Arn!,
    };
    env = testEnv({ ...over, LOG_LEVEL: 'info' });
    gov = startGovernance(env);
    expect(await gov.ready).toBe(kmsAddress);
    t = await createTestApp({ env: over });
    admin = await adminToken(t.url);
    op = await createOperator(t.url, admin);
    chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')), pollingInterval: 50 });
  }, 180_000);
  afterAll(async () => {
    gov?.child.kill('SIGKILL');
    await t?.close();
    kms?.destroy();
    moto?.stop();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  it("makes the KMS key's address every new token's admin; the firm's key is agent only", async () => {
    const r = await http(t.url, 'POST', '/v1/tokens', {
      token: op.token,
      body: { name: 'KMS Governed', symbol: 'KMSG', decimals: 0 },
      headers: WAIT,
    });
    expect(r.body.status, r.text).toBe('active');
    token = { id: r.body.id, address: r.body.address };
    expect(await read(token.address, 'hasRole', [ADMIN_ROLE, kmsAddress])).toBe(true);
    expect(await read(token.address, 'hasRole', [ADMIN_ROLE, op.signerAddress])).toBe(false);
    expect(await read(token.address, 'hasRole', [AGENT_ROLE, op.signerAddress])).toBe(true);
    const signers = await http(t.url, 'GET', '/v1/signers', { token: admin });
    const g = signers.body.items.find((s: { kind: string }) => s.kind === 'governance');
    expect(getAddress(g.address)).toBe(kmsAddress);
    expect(BigInt(g.gasBalance)).toBe(await chain.getBalance({ address: kmsAddress }));
  }, 60_000);

  it('the API only queues governance rows: they wait while the governance process is down and are signed by KMS once it runs', async () => {
    gov.child.kill('SIGKILL');
    await new Promise((r) => gov.child.once('exit', r));
    const r = await http(t.url, 'POST', `/v1/operators/${op.id}/emergency-pause`, {
      token: admin,
      body: { legalBasis: { code: 'regulatory', reference: 'e2e' } },
    });
    expect(r.status, r.text).toBe(202);
    const ids = (r.body.transactions as Array<{ id: string }>).map((x) => x.id);
    expect(ids).toHaveLength(2);
    await new Promise((res) => setTimeout(res, 3000));
    for (const id of ids) expect((await txOf(id)).status).toBe('queued');
    expect(await read(token.address, 'governancePaused')).toBe(false);

    gov = startGovernance(env);
    expect(await gov.ready).toBe(kmsAddress);
    for (const id of ids) {
      const deadline = Date.now() + 60_000;
      let tx = await txOf(id);
      while (!['confirmed', 'failed'].includes(tx.status) && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 200));
        tx = await txOf(id);
      }
      expect(tx.status, JSON.stringify(tx)).toBe('confirmed');
      expect(getAddress((await chain.getTransaction({ hash: tx.txHash })).from)).toBe(kmsAddress);
    }
    expect(await read(token.address, 'governancePaused')).toBe(true);
    expect(await read(token.address, 'hasRole', [AGENT_ROLE, op.signerAddress])).toBe(false);
    expect(gov.lines.some((l) => /kms:Sign|privateKey|secret/i.test(l))).toBe(false);
  }, 120_000);
});
