import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseGwei, recoverMessageAddress, recoverTransactionAddress } from 'viem';
import { MemoryAuditSink } from '../audit/testing/memory-audit-sink';
import { loadConfig } from '../config/app-config';
import { Metrics } from '../common/metrics';
import { DataKeyCache } from './data-key-cache';
import { Envelope } from './envelope';
import { KeyIntegrityError, KmsUnavailableError } from './key-management';
import { SigningKeys, signingKeyContext } from './signing-keys';
import { FakeKeyManagement } from './testing/fake-key-management';

function config(cache?: { age: number; uses: number }) {
  return loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'kagi-kms-spec-')),
    DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused',
    KMS_DATA_KEY_CACHE_MAX_AGE_MS: String(cache?.age ?? 0),
    KMS_DATA_KEY_CACHE_MAX_USES: String(cache?.uses ?? 0),
  });
}

/** Captures every plaintext the envelope hands out, to check it is zeroed afterwards. */
class CapturingEnvelope extends Envelope {
  readonly opened: Buffer[] = [];
  override async open(...args: Parameters<Envelope['open']>): Promise<Buffer> {
    const b = await super.open(...args);
    this.opened.push(b);
    return b;
  }
}

const operatorA = { kind: 'operator' as const, id: '11111111-1111-4111-8111-111111111111' };
const operatorB = { kind: 'operator' as const, id: '22222222-2222-4222-8222-222222222222' };
const audit = { actor: { type: 'operator' as const, id: operatorA.id }, operatorId: operatorA.id, purpose: 'test' };
const tx = {
  chainId: 31337,
  nonce: 0,
  to: '0x000000000000000000000000000000000000dEaD' as const,
  value: 1n,
  gas: 21000n,
  maxFeePerGas: parseGwei('2'),
  maxPriorityFeePerGas: 1n,
  type: 'eip1559' as const,
};

describe('SigningKeys', () => {
  let kms: FakeKeyManagement;
  let envelope: CapturingEnvelope;
  let auditSink: MemoryAuditSink;
  let keys: SigningKeys;

  beforeEach(() => {
    kms = new FakeKeyManagement();
    const metrics = new Metrics();
    envelope = new CapturingEnvelope(kms, new DataKeyCache(config()), metrics);
    auditSink = new MemoryAuditSink();
    keys = new SigningKeys(envelope, auditSink, metrics);
  });

  it('creates a key, signs a transaction and a message that recover to its address, one KMS call per opening', async () => {
    const { address, sealed } = await keys.create(operatorA);
    expect(sealed.address).toBe(address);
    const signed = await keys.withSigner(operatorA, sealed, audit, (acct) => acct.signTransaction(tx));
    expect(await recoverTransactionAddress({ serializedTransaction: signed as `0x02${string}` })).toBe(address);
    const sig = await keys.withSigner(operatorA, sealed, audit, (acct) => acct.signMessage({ message: 'kagi' }));
    expect(await recoverMessageAddress({ message: 'kagi', signature: sig })).toBe(address);
    expect(kms.calls.decrypt).toBe(2);
    expect(auditSink.events.filter((e) => e.action === 'key.open' && e.outcome === 'success')).toHaveLength(2);
  });

  it('zeroes the signing key and the data key after the callback returns and after it throws', async () => {
    const { sealed } = await keys.create(operatorA);
    await keys.withSigner(operatorA, sealed, audit, async (acct) => acct.signMessage({ message: 'x' }));
    await expect(keys.withSigner(operatorA, sealed, audit, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(envelope.opened).toHaveLength(2);
    for (const b of [...envelope.opened, ...kms.returnedDataKeys]) {
      expect(b.length).toBeGreaterThan(0);
      expect(b.every((x) => x === 0)).toBe(true);
    }
  });

  it('refuses a signer used after its callback returned', async () => {
    const { sealed } = await keys.create(operatorA);
    const leaked = await keys.withSigner(operatorA, sealed, audit, (acct) => Promise.resolve(acct));
    await expect(leaked.signMessage({ message: 'late' })).rejects.toThrow(/closed/);
  });

  it("refuses another owner's columns (row swap) and audits the refusal", async () => {
    const a = await keys.create(operatorA);
    await expect(keys.withSigner(operatorB, a.sealed, audit, () => Promise.resolve(1))).rejects.toBeInstanceOf(KeyIntegrityError);
    expect(auditSink.events.at(-1)).toMatchObject({ action: 'key.open', outcome: 'denied' });
  });

  it('refuses a key whose derived address differs from the stored one', async () => {
    const a = await keys.create(operatorA);
    const b = await keys.create(operatorB);
    // B's signing key sealed under A's identity and A's address: authentic envelope, wrong key.
    const plainB = await envelope.open(b.sealed, signingKeyContext(operatorB, b.address));
    const forged = await envelope.seal(plainB, signingKeyContext(operatorA, a.address));
    plainB.fill(0);
    // A's genuine key opened first: the address check of one sealed key never vouches for other bytes.
    await expect(keys.withSigner(operatorA, a.sealed, audit, (acct) => Promise.resolve(acct.address))).resolves.toBe(a.address);
    await expect(keys.withSigner(operatorA, { ...forged, address: a.address }, audit, () => Promise.resolve(1))).rejects.toThrow(
      /does not match/,
    );
    await expect(keys.withSigner(operatorA, { ...forged, address: a.address }, audit, () => Promise.resolve(1))).rejects.toThrow(
      /does not match/,
    );
    expect(auditSink.events.at(-1)).toMatchObject({ action: 'key.open', outcome: 'denied', details: { reason: 'address mismatch' } });
  });

  it('fails closed on any flipped byte of either ciphertext', async () => {
    const { sealed } = await keys.create(operatorA);
    for (const field of ['encryptedKey', 'encryptedDataKey'] as const) {
      for (let i = 0; i < sealed[field].length; i += 7) {
        const copy = Buffer.from(sealed[field]);
        copy[i] = (copy[i] ?? 0) ^ 0x01;
        await expect(
          keys.withSigner(operatorA, { ...sealed, [field]: copy }, audit, () => Promise.resolve(1)),
          `${field}[${i}]`,
        ).rejects.toBeInstanceOf(KeyIntegrityError);
      }
    }
  });

  it('reports an unreachable KMS as KMS_UNAVAILABLE when creating a key', async () => {
    kms.down = true;
    await expect(keys.create(operatorA)).rejects.toBeInstanceOf(KmsUnavailableError);
  });

  it('rewraps to a new master key without changing the address or the signing key', async () => {
    const { address, sealed } = await keys.create(operatorA);
    const before = await keys.withSigner(operatorA, sealed, audit, (acct) => acct.signMessage({ message: 'same' }));
    const newKey = kms.ring.rotate();
    const rewrapped = await keys.rewrap(operatorA, sealed, audit);
    expect(rewrapped.kmsKeyId).toBe(newKey);
    expect(rewrapped.address).toBe(address);
    expect(rewrapped.encryptedKey.equals(sealed.encryptedKey)).toBe(true);
    const after = await keys.withSigner(operatorA, rewrapped, audit, (acct) => acct.signMessage({ message: 'same' }));
    expect(after).toBe(before); // RFC 6979: same key, same message, same signature
  });
});

describe('DataKeyCache', () => {
  it('is off by default: every opening calls KMS', async () => {
    const kms = new FakeKeyManagement();
    const env = new Envelope(kms, new DataKeyCache(config()), new Metrics());
    const ctx = { purpose: 'p', ownerId: 'x' };
    const sealed = await env.seal(Buffer.alloc(32, 7), ctx);
    for (let i = 0; i < 3; i++) (await env.open(sealed, ctx)).fill(0);
    expect(kms.calls.decrypt).toBe(3);
  });

  it('when on, serves up to max-uses openings per KMS call and zeroes evicted keys', async () => {
    const kms = new FakeKeyManagement();
    const cache = new DataKeyCache(config({ age: 60_000, uses: 3 }));
    const env = new Envelope(kms, cache, new Metrics());
    const ctx = { purpose: 'p', ownerId: 'x' };
    const sealed = await env.seal(Buffer.alloc(32, 7), ctx);
    for (let i = 0; i < 6; i++) {
      const p = await env.open(sealed, ctx);
      expect(p.equals(Buffer.alloc(32, 7))).toBe(true);
      p.fill(0);
    }
    expect(kms.calls.decrypt).toBe(2);
    const held = [...(cache as unknown as { entries: Map<string, { key: Buffer }> }).entries.values()].map((e) => e.key);
    cache.onModuleDestroy();
    expect(cache.size).toBe(0);
    for (const k of held) expect(k.every((x) => x === 0)).toBe(true);
  });
});
