/**
 * The operators table (firms): their envelope-sealed signing keys, status and e-mail.
 * A firm's id is its first staff member's principal id (the v1 login), whose name and
 * loginId the Operator answer shows.
 */
import { getAddress } from 'viem';
import { custodyAddressOf } from '../chain/custody-address';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { NotFoundError } from '../common/app-error';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { sealedKeyColumns, type SealedKey } from '../kms/sealed-key';
import { repositoryStore, saveRewrapped, type SealedKeyStore } from '../kms/sealed-key-stores';
import { Operator } from './entities/operator.entity';

@Injectable()
export class OperatorsRepository {
  constructor(private readonly ds: DataSource) {}

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }

  sealedKeyStore(): SealedKeyStore {
    return repositoryStore('operator', this.ds.getRepository(Operator), (o) => o.id);
  }

  async insert(
    em: EntityManager,
    o: { id: string; email: string; address: `0x${string}`; sealed: { encryptedKey: Buffer; encryptedDataKey: Buffer; kmsKeyId: string } },
  ): Promise<void> {
    await em.getRepository(Operator).insert({
      id: o.id,
      email: o.email,
      status: 'active',
      signerAddress: o.address,
      // Keyless (api-contract "Operators"): only agent actions move custody; a key rotation never does.
      custodyAddress: custodyAddressOf(o.id),
      encryptedKey: o.sealed.encryptedKey,
      encryptedDataKey: o.sealed.encryptedDataKey,
      kmsKeyId: o.sealed.kmsKeyId,
    });
  }

  /** Firms whose custody is still at the signing address (created before the keyless custody rule). */
  async withLegacyCustody(): Promise<Array<{ id: string; custodyAddress: `0x${string}` }>> {
    const rows = await this.ds.getRepository(Operator).find({ select: { id: true, custodyAddress: true } });
    return rows
      .filter((o) => getAddress(o.custodyAddress) !== custodyAddressOf(o.id))
      .map((o) => ({ id: o.id, custodyAddress: getAddress(o.custodyAddress) }));
  }

  /** Switches the firm to its keyless custody address under a lock on the firm; false when already done. */
  async adoptKeylessCustody(em: EntityManager, operatorId: string): Promise<boolean> {
    const [o] = await em.query<Array<{ custody_address: string }>>('SELECT custody_address FROM operators WHERE id = $1 FOR UPDATE', [
      operatorId,
    ]);
    const keyless = custodyAddressOf(operatorId);
    if (!o || getAddress(o.custody_address) === keyless) return false;
    await em.query('UPDATE operators SET custody_address = $2 WHERE id = $1', [operatorId, keyless]);
    return true;
  }

  /** Key rotation: the firm's new sealed key replaces the old one (whose ciphertexts are gone with it), in the caller's transaction. */
  async replaceKey(em: EntityManager, id: string, k: SealedKey): Promise<void> {
    await em.getRepository(Operator).update({ id }, sealedKeyColumns(k));
  }

  async load(id: string): Promise<Operator> {
    const o = await this.ds.getRepository(Operator).findOne({ where: { id }, relations: { principal: true } });
    if (!o) throw new NotFoundError('Operator');
    return o;
  }

  page<R>(query: PageQuery, map: (o: Operator) => R): Promise<Page<R>> {
    return paginate(this.ds.getRepository(Operator).createQueryBuilder('o').innerJoinAndSelect('o.principal', 'p'), query, map);
  }

  async setStatus(em: EntityManager, id: string, status: 'active' | 'suspended'): Promise<void> {
    await em.getRepository(Operator).update({ id }, { status });
  }

  async status(id: string): Promise<'active' | 'suspended' | undefined> {
    const o = await this.ds.getRepository(Operator).findOne({ where: { id }, select: { id: true, status: true } });
    return o?.status;
  }

  /** Serialises changes to a firm's staff (the last firm-admin rule). */
  async lock(em: EntityManager, id: string): Promise<boolean> {
    const rows = await em.query<unknown[]>(`SELECT id FROM operators WHERE id = $1 FOR UPDATE`, [id]);
    return rows.length > 0;
  }

  saveRewrapped(id: string, sealed: SealedKey): Promise<void> {
    return saveRewrapped(this.ds.getRepository(Operator), id, sealed);
  }
}
