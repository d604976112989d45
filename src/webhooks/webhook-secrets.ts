/**
 * A webhook secret's whole life: 32 random bytes, shown once as `whsec_<base64>`, stored only
 * sealed with the envelope (a KMS data key per secret, AES-256-GCM) under an encryption
 * context naming the endpoint and the secret's version, so a sealed secret copied onto another
 * endpoint's row, or an older version put back, does not open.
 *
 * Opened secrets are kept in a bounded in-process cache (at most CACHE_MAX entries, each for
 * CACHE_TTL_MS), because every delivery attempt would otherwise cost a KMS Decrypt. The cache
 * holds raw bytes in Buffers that are zeroed when evicted, expired or replaced; JavaScript
 * cannot promise that no copy survives elsewhere in the heap (the HMAC library copies the key
 * into its own state), which is why the cache is small and short-lived. Never logged, never
 * in an error, never in the database in clear.
 */
import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Envelope, type SealedSecret } from '../kms/envelope';
import type { EncryptionContext } from '../kms/encryption-context';

const SECRET_BYTES = 32;
const CACHE_MAX = 256;
const CACHE_TTL_MS = 10 * 60_000;

export const SECRET_PREFIX = 'whsec_';

export function secretContext(endpointId: string, version: number): EncryptionContext {
  return { purpose: 'webhook-secret', webhookId: endpointId, version: String(version) };
}

interface Cached {
  key: Buffer;
  until: number;
}

@Injectable()
export class WebhookSecrets {
  private readonly cache = new Map<string, Cached>();

  constructor(private readonly envelope: Envelope) {}

  /** A new secret for `endpointId` at `version`: the sealed form to store and the text shown once. */
  async create(endpointId: string, version: number): Promise<{ sealed: SealedSecret; shown: string }> {
    const key = randomBytes(SECRET_BYTES);
    try {
      const sealed = await this.envelope.seal(key, secretContext(endpointId, version));
      return { sealed, shown: SECRET_PREFIX + key.toString('base64') };
    } finally {
      key.fill(0);
    }
  }

  /**
   * Runs `fn` with the opened secret of `endpointId` at `version`. The bytes belong to the
   * cache: `fn` must not keep them beyond its own run.
   */
  async with<T>(endpointId: string, version: number, sealed: SealedSecret, fn: (key: Uint8Array) => T): Promise<T> {
    const id = `${endpointId}:${version}`;
    const now = Date.now();
    let hit = this.cache.get(id);
    if (hit && hit.until <= now) {
      this.evict(id);
      hit = undefined;
    }
    if (!hit) {
      const key = await this.envelope.open(sealed, secretContext(endpointId, version));
      hit = { key, until: now + CACHE_TTL_MS };
      this.cache.set(id, hit);
      while (this.cache.size > CACHE_MAX) this.evict(this.cache.keys().next().value!);
    } else {
      // Most recently used last: the first key is the one to evict.
      this.cache.delete(id);
      this.cache.set(id, hit);
    }
    return fn(hit.key);
  }

  /** Drops every cached version of an endpoint (rotation, deletion). */
  forget(endpointId: string): void {
    for (const id of [...this.cache.keys()]) if (id.startsWith(`${endpointId}:`)) this.evict(id);
  }

  get cached(): number {
    return this.cache.size;
  }

  private evict(id: string): void {
    this.cache.get(id)?.key.fill(0);
    this.cache.delete(id);
  }
}
