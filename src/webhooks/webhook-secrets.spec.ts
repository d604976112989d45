import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { FakeKeyManagement } from '../../test/support/fakes/fake-key-management';
import { Metrics } from '../common/metrics';
import { loadConfig } from '../config/app-config';
import { DataKeyCache } from '../kms/data-key-cache';
import { Envelope } from '../kms/envelope';
import { KeyIntegrityError } from '../kms/key-management';
import { SECRET_PREFIX, secretContext, WebhookSecrets } from './webhook-secrets';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

function build() {
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'kagi-webhook-spec-')),
    DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused',
  });
  const kms = new FakeKeyManagement();
  const envelope = new Envelope(kms, new DataKeyCache(config), new Metrics());
  return { kms, envelope, secrets: new WebhookSecrets(envelope) };
}

describe('WebhookSecrets', () => {
  it('shows whsec_ + base64 of 32 bytes once; the sealed form opens to the same key, which signs as the receiver verifies', async () => {
    const { secrets } = build();
    const { sealed, shown } = await secrets.create(A, 1);
    expect(shown.startsWith(SECRET_PREFIX)).toBe(true);
    expect(Buffer.from(shown.slice(SECRET_PREFIX.length), 'base64')).toHaveLength(32);
    expect(sealed.encryptedKey.includes(Buffer.from(shown.slice(SECRET_PREFIX.length), 'base64'))).toBe(false);
    const at = new Date();
    const sig = await secrets.with(A, 1, sealed, (key) => new Webhook(key, { format: 'raw' }).sign('msg_1', at, '{"a":1}'));
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': sig };
    expect(new Webhook(shown).verify('{"a":1}', headers)).toEqual({ a: 1 });
  });

  it('is bound to its endpoint and version: another endpoint or an older version does not open', async () => {
    const { secrets, envelope } = build();
    const { sealed } = await secrets.create(A, 2);
    await expect(envelope.open(sealed, secretContext(B, 2))).rejects.toBeInstanceOf(KeyIntegrityError);
    await expect(envelope.open(sealed, secretContext(A, 1))).rejects.toBeInstanceOf(KeyIntegrityError);
  });

  it('opens a secret once per cache lifetime (one KMS Decrypt), and zeroes it when forgotten', async () => {
    const { secrets, kms } = build();
    const { sealed } = await secrets.create(A, 1);
    let held: Uint8Array | undefined;
    for (let i = 0; i < 5; i++) await secrets.with(A, 1, sealed, (key) => (held = key));
    expect(kms.calls.decrypt).toBe(1);
    expect(secrets.cached).toBe(1);
    secrets.forget(A);
    expect(secrets.cached).toBe(0);
    expect(held!.every((b) => b === 0)).toBe(true);
  });
});
