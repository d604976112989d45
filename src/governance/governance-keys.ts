/**
 * The development governance key: read, and created and sealed once when missing (the
 * repository's lock makes concurrent first calls agree on one key, the oldest row).
 */
import { randomUUID } from 'node:crypto';
import type { SigningKeys } from '../kms/signing-keys';
import type { GovernanceKeyRow, GovernanceKeysRepository } from './governance-keys.repository';

export class GovernanceKeys {
  constructor(
    private readonly repo: GovernanceKeysRepository,
    private readonly keys: SigningKeys,
  ) {}

  /** The governance key (the oldest row), or undefined before one exists. */
  find(): Promise<GovernanceKeyRow | undefined> {
    return this.repo.oldest();
  }

  /** The governance key, created and sealed first when there is none; `created` says which. */
  async ensure(): Promise<GovernanceKeyRow & { created: boolean }> {
    const existing = await this.repo.oldest();
    if (existing) return { ...existing, created: false };
    const id = randomUUID();
    const { sealed } = await this.keys.create({ kind: 'governance', id });
    return this.repo.insertUnlessPresent(id, sealed);
  }
}
