/**
 * The governance signer as a sealed-key owner (SealedKeyStores): it shows in `GET /v1/signers`
 * with its queue and gas like every signer, and under `local` its sealed development key is
 * rewrapped by `keys:rewrap` and opened by the pipeline's envelope signer. Under `kms` and
 * `external` there is no sealed key: `load` refuses, and the owner is the configured address.
 */
import type { SealedKeyStore } from '../kms/sealed-key-stores';
import { GOVERNANCE_SIGNER_ID } from './governance-calls';
import type { GovernanceKeysRepository } from './governance-keys.repository';
import type { GovernanceSigner } from './governance-signer';

export function governanceKeyStore(repo: GovernanceKeysRepository, signer: GovernanceSigner): SealedKeyStore {
  const local = signer.kind === 'local';
  return {
    kind: 'governance',
    listStale: async (current, afterId, limit) => {
      if (!local) return [];
      const rows = await repo.sealedUnder(current, afterId, limit);
      return rows.map((k) => ({ owner: { kind: 'governance' as const, id: k.id }, sealed: k.sealed, operatorId: null }));
    },
    update: async (owner, sealed) => {
      await repo.rewrapped(owner.id, sealed);
    },
    load: async (id) => {
      if (!local) throw new Error(`GOVERNANCE_SIGNER=${signer.kind}: governance has no sealed key in kagi`);
      return (await repo.byId(id)).sealed;
    },
    owners: async () => {
      if (local) {
        const k = await repo.oldest();
        return k ? [{ id: k.id, address: k.sealed.address }] : [];
      }
      return [{ id: GOVERNANCE_SIGNER_ID, address: await signer.address() }];
    },
  };
}
