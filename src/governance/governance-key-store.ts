/**
 * The governance signer as a sealed-key owner (SealedKeyStores): it shows in `GET /v1/signers`
 * with its queue and gas like every signer, and under `local` its sealed development key is
 * rewrapped by `keys:rewrap` and opened by the pipeline's envelope signer. Under `kms` and
 * `external` there is no sealed key: `load` refuses, and the owner is the configured address.
 */
import type { DataSource } from 'typeorm';
import { MoreThan, Not } from 'typeorm';
import type { SealedKeyStore } from '../kms/sealed-key-stores';
import type { SealedKey } from '../kms/sealed-key';
import { GovernanceKey } from '../tokens/entities/governance-key.entity';
import { GOVERNANCE_SIGNER_ID } from './governance-calls';
import type { GovernanceSigner } from './governance-signer';

const sealedOf = (k: GovernanceKey): SealedKey => ({
  encryptedKey: k.encryptedKey,
  encryptedDataKey: k.encryptedDataKey,
  kmsKeyId: k.kmsKeyId,
  address: k.address,
});

export function governanceKeyStore(ds: DataSource, signer: GovernanceSigner): SealedKeyStore {
  const repo = ds.getRepository(GovernanceKey);
  const local = signer.kind === 'local';
  return {
    kind: 'governance',
    listStale: async (current, afterId, limit) => {
      if (!local) return [];
      const rows = await repo.find({
        where: { kmsKeyId: Not(current), ...(afterId ? { id: MoreThan(afterId) } : {}) },
        order: { id: 'ASC' },
        take: limit,
      });
      return rows.map((k) => ({ owner: { kind: 'governance' as const, id: k.id }, sealed: sealedOf(k), operatorId: null }));
    },
    update: async (owner, sealed) => {
      await repo.update({ id: owner.id }, { encryptedDataKey: sealed.encryptedDataKey, kmsKeyId: sealed.kmsKeyId });
    },
    load: async (id) => {
      if (!local) throw new Error(`GOVERNANCE_SIGNER=${signer.kind}: governance has no sealed key in kagi`);
      return sealedOf(await repo.findOneByOrFail({ id }));
    },
    owners: async () => {
      if (local) {
        const k = await repo.findOne({ where: {}, order: { createdAt: 'ASC' } });
        return k ? [{ id: k.id, address: k.address }] : [];
      }
      return [{ id: GOVERNANCE_SIGNER_ID, address: await signer.address() }];
    },
  };
}
