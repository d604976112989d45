/**
 * Key custody against a real KMS API (moto from the global setup, or LocalStack via
 * KMS_ENDPOINT): envelope round trip, every refusal, outages, rewrap, and a signed
 * transaction accepted by Anvil — checked with independent viem reads.
 */
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { createPublicClient, http as viemHttp, parseEther, recoverMessageAddress, type Address } from 'viem';
import { beforeAll, describe, expect, it, inject } from 'vitest';
import { MemoryAuditSink } from '../../src/audit/testing/memory-audit-sink';
import { loadConfig } from '../../src/config/app-config';
import { freePort } from '../../src/dev/processes';
import { Metrics } from '../../src/common/metrics';
import { AwsKms } from '../../src/kms/aws-kms';
import { DataKeyCache } from '../../src/kms/data-key-cache';
import { Envelope } from '../../src/kms/envelope';
import { KeyIntegrityError, KmsUnavailableError } from '../../src/kms/key-management';
import { SigningKeys, signingKeyContext } from '../../src/kms/signing-keys';
import { testEnv } from '../support/app';
import { findSecrets } from '../support/secrets';

function build(env: Record<string, string | undefined> = {}) {
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  const config = loadConfig(testEnv(env));
  const kms = new AwsKms(config);
  const metrics = new Metrics();
  const envelope = new Envelope(kms, new DataKeyCache(config), metrics);
  const audit = new MemoryAuditSink();
  return { config, kms, envelope, audit, keys: new SigningKeys(envelope, audit, metrics), metrics };
}

const owner = { kind: 'operator' as const, id: '3c0a5c2e-0d7b-4a57-9d1e-0f1f7d3b9a11' };
const other = { kind: 'operator' as const, id: '7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d' };
const who = { actor: { type: 'system' as const }, purpose: 'e2e' };

describe('key custody against a real KMS API', () => {
  let secondKeyArn: string;

  beforeAll(async () => {
    const client = new KMSClient({
      endpoint: inject('kmsEndpoint'),
      region: inject('kmsRegion'),
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const k = await client.send(new CreateKeyCommand({ Description: 'kagi e2e rotation target' }));
    secondKeyArn = k.KeyMetadata!.Arn!;
    client.destroy();
  });

  it('seals and opens a secret; KMS holds only the wrapped data key', async () => {
    const { envelope } = build();
    const ctx = { purpose: 'operator-signing-key', ownerKind: 'operator', ownerId: owner.id, address: '0x1', formatVersion: '1' };
    const secret = Buffer.from('0f'.repeat(32), 'hex');
    const sealed = await envelope.seal(secret, ctx);
    expect(sealed.kmsKeyId).toBe(inject('kmsKeyId'));
    expect(sealed.encryptedKey.includes(secret)).toBe(false);
    const opened = await envelope.open(sealed, ctx);
    expect(opened.equals(secret)).toBe(true);
  });

  it('refuses wrong, missing and foreign contexts, a wrong key id and every tampered field', async () => {
    const { envelope } = build();
    const ctx = { purpose: 'operator-signing-key', ownerKind: 'operator', ownerId: owner.id, address: '0xA', formatVersion: '1' };
    const sealed = await envelope.seal(Buffer.alloc(32, 9), ctx);
    const refused = async (p: Promise<unknown>) => expect(p).rejects.toBeInstanceOf(KeyIntegrityError);
    await refused(envelope.open(sealed, { ...ctx, ownerId: other.id })); // row swap
    await refused(envelope.open(sealed, { ...ctx, purpose: 'issuer-signing-key' }));
    await refused(envelope.open(sealed, {})); // missing context
    await refused(envelope.open(sealed, { ...ctx, address: '0xB' }));
    await refused(envelope.open({ ...sealed, kmsKeyId: secondKeyArn }, ctx)); // wrong key id
    for (const field of ['encryptedKey', 'encryptedDataKey'] as const) {
      for (const i of [0, 1, 5, 20, sealed[field].length - 1]) {
        const copy = Buffer.from(sealed[field]);
        copy[i] = (copy[i] ?? 0) ^ 0x80;
        await refused(envelope.open({ ...sealed, [field]: copy }, ctx));
      }
    }
  });

  it('answers KMS_UNAVAILABLE when KMS cannot be reached, and nothing is returned half-made', async () => {
    const { keys } = build({ KMS_ENDPOINT: `http://127.0.0.1:${await freePort()}` });
    await expect(keys.create(owner)).rejects.toBeInstanceOf(KmsUnavailableError);
  });

  it('rewraps under another master key with ReEncrypt: same address, same signatures', async () => {
    const { keys } = build();
    const { address, sealed } = await keys.create(owner);
    const before = await keys.withSigner(owner, sealed, who, (a) => a.signMessage({ message: 'rotation' }));
    const moved = await build({ KMS_KEY_ID: secondKeyArn }).keys.rewrap(owner, sealed, who);
    expect(moved.kmsKeyId).toBe(secondKeyArn);
    expect(moved.address).toBe(address);
    expect(moved.encryptedKey.equals(sealed.encryptedKey)).toBe(true);
    const after = await keys.withSigner(owner, moved, who, (a) => a.signMessage({ message: 'rotation' }));
    expect(after).toBe(before);
    expect(await recoverMessageAddress({ message: 'rotation', signature: after })).toBe(address);
    // The old wrapping no longer matters; the new one is refused under another owner.
    await expect(keys.withSigner(other, moved, who, () => Promise.resolve())).rejects.toBeInstanceOf(KeyIntegrityError);
  });

  it('signs a transaction that Anvil accepts, and the key bytes appear in no log, error or audit event', async () => {
    const { keys, audit, envelope } = build();
    const { address, sealed } = await keys.create(owner);
    const chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')) });
    const [funder] = await chain.request<{ Method: 'eth_accounts'; Parameters: undefined; ReturnType: Address[] }>({
      method: 'eth_accounts',
    });
    const fundHash = await chain.request<{
      Method: 'eth_sendTransaction';
      Parameters: [{ from: Address; to: Address; value: `0x${string}` }];
      ReturnType: `0x${string}`;
    }>({
      method: 'eth_sendTransaction',
      params: [{ from: funder!, to: address, value: `0x${parseEther('1').toString(16)}` }],
    });
    await chain.waitForTransactionReceipt({ hash: fundHash });
    const nonce = await chain.getTransactionCount({ address });
    const raw = await keys.withSigner(owner, sealed, who, (account) =>
      account.signTransaction({
        chainId: inject('chainId'),
        type: 'eip1559',
        nonce,
        to: '0x000000000000000000000000000000000000dEaD',
        value: 12345n,
        gas: 21000n,
        maxFeePerGas: 10_000_000_000n,
        maxPriorityFeePerGas: 1_000_000_000n,
      }),
    );
    const hash = await chain.sendRawTransaction({ serializedTransaction: raw });
    const receipt = await chain.waitForTransactionReceipt({ hash });
    expect(receipt.status).toBe('success');
    expect(receipt.from.toLowerCase()).toBe(address.toLowerCase());

    // Recover the plaintext key (test-only) to scan for it everywhere it must not be.
    const plain = await envelope.open(sealed, signingKeyContext(owner, address));
    const haystack = [JSON.stringify(audit.events), JSON.stringify(sealed.encryptedKey), raw].join('\n');
    expect(findSecrets(haystack, [plain])).toEqual([]);
    plain.fill(0);
  });
});
