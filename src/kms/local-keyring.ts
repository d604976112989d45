/**
 * Local keyring for the embedded default (`KMS_PROVIDER=local`, refused in production):
 * a 256-bit master key in a 0600 file under DATA_DIR/kms/ wraps data keys with
 * AES-256-GCM, with the canonical encryption context as AAD, exactly mirroring what
 * KMS enforces. Several master keys may live in the keyring; the newest is current,
 * so rewrapping works here too.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeContext, type EncryptionContext } from './encryption-context';
import { KeyIntegrityError, KeyManagement, type DataKey } from './key-management';

const WRAP_VERSION = 1;

export class LocalKeyring extends KeyManagement {
  readonly provider = 'local' as const;
  private readonly keys = new Map<string, Buffer>();
  private current!: string;

  constructor(private readonly dir: string) {
    super();
    this.load();
  }

  /** Adds a new master key and makes it current (used to exercise rewrapping). */
  rotate(): string {
    const key = randomBytes(32);
    const id = this.idOf(key);
    const n = readdirSync(this.dir).filter((f) => f.endsWith('.key')).length;
    writeFileSync(join(this.dir, `${String(n + 1).padStart(4, '0')}-${id}.key`), key, { mode: 0o600, flag: 'wx' });
    this.keys.set(id, key);
    this.current = id;
    return id;
  }

  currentKeyId(): Promise<string> {
    return Promise.resolve(this.current);
  }

  generateDataKey(ctx: EncryptionContext): Promise<DataKey> {
    const plaintext = randomBytes(32);
    const wrapped = this.wrap(plaintext, ctx, this.current);
    return Promise.resolve({ plaintext, ciphertext: wrapped, keyId: this.current });
  }

  decrypt(wrapped: Uint8Array, ctx: EncryptionContext, keyId: string): Promise<Buffer> {
    return Promise.resolve(this.unwrap(Buffer.from(wrapped), ctx, keyId));
  }

  reEncrypt(
    wrapped: Uint8Array,
    ctx: EncryptionContext,
    sourceKeyId: string,
    destinationKeyId?: string,
  ): Promise<{ ciphertext: Uint8Array; keyId: string }> {
    const dest = destinationKeyId ?? this.current;
    const plain = this.unwrap(Buffer.from(wrapped), ctx, sourceKeyId);
    try {
      return Promise.resolve({ ciphertext: this.wrap(plain, ctx, dest), keyId: dest });
    } finally {
      plain.fill(0);
    }
  }

  probe(): Promise<void> {
    const ctx = { purpose: 'readiness-probe' };
    const dk = this.wrap(Buffer.alloc(32, 1), ctx, this.current);
    this.unwrap(dk, ctx, this.current).fill(0);
    return Promise.resolve();
  }

  private wrap(plain: Buffer, ctx: EncryptionContext, keyId: string): Buffer {
    const key = this.keys.get(keyId);
    if (!key) throw new KeyIntegrityError('unknown master key');
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(Buffer.concat([Buffer.from(keyId, 'utf8'), encodeContext(ctx)]));
    const ct = Buffer.concat([c.update(plain), c.final()]);
    const id = Buffer.from(keyId, 'utf8');
    return Buffer.concat([Buffer.from([WRAP_VERSION, id.length]), id, iv, ct, c.getAuthTag()]);
  }

  private unwrap(blob: Buffer, ctx: EncryptionContext, expectedKeyId: string): Buffer {
    if (blob.length < 2 + 12 + 16 || blob[0] !== WRAP_VERSION) throw new KeyIntegrityError('malformed wrapped key');
    const idLen = blob[1] ?? 0;
    const keyId = blob.subarray(2, 2 + idLen).toString('utf8');
    if (keyId !== expectedKeyId) throw new KeyIntegrityError('wrapped under another master key');
    const key = this.keys.get(keyId);
    if (!key) throw new KeyIntegrityError('unknown master key');
    const iv = blob.subarray(2 + idLen, 14 + idLen);
    const body = blob.subarray(14 + idLen);
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAAD(Buffer.concat([Buffer.from(keyId, 'utf8'), encodeContext(ctx)]));
    d.setAuthTag(body.subarray(body.length - 16));
    try {
      return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
    } catch {
      throw new KeyIntegrityError('wrapped key does not authenticate under this context');
    }
  }

  private load(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    const files = readdirSync(this.dir)
      .filter((f) => f.endsWith('.key'))
      .sort();
    if (files.length === 0) {
      this.rotate();
      return;
    }
    for (const f of files) {
      const key = readFileSync(join(this.dir, f));
      if (key.length !== 32) throw new Error(`local keyring: ${f} is not a 256-bit key`);
      const id = this.idOf(key);
      this.keys.set(id, key);
      this.current = id;
    }
  }

  private idOf(key: Buffer): string {
    return `local:${createHash('sha256').update('kagi-local-keyring').update(key).digest('hex').slice(0, 16)}`;
  }
}

export function localKeyringDir(dataDir: string): string {
  return join(dataDir, 'kms');
}
