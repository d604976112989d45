import { Command, CommandRunner, Option } from 'nest-commander';
import { KeyManagement } from '../../kms/key-management';
import { SealedKeyStores } from '../../kms/sealed-key-stores';
import { SigningKeys } from '../../kms/signing-keys';

interface Options {
  all?: boolean;
  batch?: number;
}

/**
 * Moves every signing key's data key under the current KMS_KEY_ID with ReEncrypt.
 * Idempotent and resumable: it only picks keys not yet under the current key, so a
 * re-run after an interruption continues where the last one stopped.
 */
@Command({ name: 'keys:rewrap', description: 'Re-wrap data keys under the current KMS_KEY_ID (signing keys and addresses unchanged)' })
export class KeysRewrapCommand extends CommandRunner {
  constructor(
    private readonly stores: SealedKeyStores,
    private readonly keys: SigningKeys,
    private readonly kms: KeyManagement,
  ) {
    super();
  }

  @Option({ flags: '--all', description: 'every operator, issuer and governance key' })
  parseAll(): boolean {
    return true;
  }

  @Option({ flags: '--batch <n>', description: 'keys per batch (default 50)' })
  parseBatch(v: string): number {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error('--batch must be an integer from 1 to 1000');
    return n;
  }

  async run(_args: string[], options: Options): Promise<void> {
    if (!options.all)
      throw new Error('keys:rewrap needs --all (per-owner rewrap is POST /v1/operators/{id}/key-rewrap and /v1/issuers/{id}/key-rewrap)');
    const current = await this.kms.currentKeyId();
    const limit = options.batch ?? 50;
    let total = 0;
    for (const store of this.stores.all()) {
      let after: string | null = null;
      let count = 0;
      for (;;) {
        const batch = await store.listStale(current, after, limit);
        if (!batch.length) break;
        for (const item of batch) {
          const sealed = await this.keys.rewrap(item.owner, item.sealed, {
            actor: { type: 'cli' },
            operatorId: item.operatorId ?? null,
            purpose: 'keys:rewrap',
          });
          await store.update(item.owner, sealed);
          count++;
          after = item.owner.id;
        }
      }
      process.stdout.write(`${store.kind}: ${count} key(s) re-wrapped\n`);
      total += count;
    }
    process.stdout.write(`done: ${total} key(s) now under ${current}\n`);
  }
}
