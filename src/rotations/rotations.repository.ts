/** rotations and rotation_steps (owned by `rotations`): every statement on them lives here. */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

export type RotationStatus = 'pending_approval' | 'running' | 'waiting_for_gas' | 'completed' | 'failed' | 'rejected' | 'expired';
export type StepKind = 'hold-queue' | 'settle-old' | 'grant-agent' | 'revoke-agent' | 'destroy-old-key';

export interface RotationRow {
  id: string;
  action_id: string | null;
  signer_kind: 'operator' | 'issuer';
  signer_id: string;
  old_address: `0x${string}`;
  new_address: `0x${string}` | null;
  new_encrypted_key: Buffer | null;
  new_encrypted_data_key: Buffer | null;
  new_kms_key_id: string | null;
  status: RotationStatus;
  error: { code: string; message: string } | null;
  requested_by: string;
  legal_basis: Record<string, unknown> | null;
  created_at: Date;
  completed_at: Date | null;
}

export interface StepRow {
  rotation_id: string;
  seq: number;
  kind: StepKind;
  token_id: string | null;
  transaction_id: string | null;
  status: 'pending' | 'done' | 'failed';
  error: { code: string; message: string } | null;
  updated_at: Date;
}

@Injectable()
export class RotationsRepository {
  constructor(private readonly ds: DataSource) {}

  transaction<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(fn);
  }

  /** False when the signer already has a rotation that is not over (the partial unique index). */
  async insert(
    em: EntityManager,
    r: Pick<RotationRow, 'id' | 'signer_kind' | 'signer_id' | 'old_address' | 'status' | 'requested_by' | 'legal_basis'>,
  ): Promise<boolean> {
    const rows = await em.query<unknown[]>(
      `INSERT INTO rotations (id, signer_kind, signer_id, old_address, status, requested_by, legal_basis) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
       ON CONFLICT DO NOTHING RETURNING id`,
      [r.id, r.signer_kind, r.signer_id, r.old_address, r.status, r.requested_by, r.legal_basis ? JSON.stringify(r.legal_basis) : null],
    );
    return rows.length > 0;
  }

  async setAction(em: EntityManager, id: string, actionId: string): Promise<void> {
    await em.query('UPDATE rotations SET action_id = $2 WHERE id = $1', [id, actionId]);
  }

  async find(id: string, em?: EntityManager): Promise<RotationRow | undefined> {
    const [r] = await (em ?? this.ds.manager).query<RotationRow[]>('SELECT * FROM rotations WHERE id = $1', [id]);
    return r;
  }

  async lock(em: EntityManager, id: string): Promise<RotationRow | undefined> {
    const [r] = await em.query<RotationRow[]>('SELECT * FROM rotations WHERE id = $1 FOR UPDATE', [id]);
    return r;
  }

  async byAction(em: EntityManager, actionId: string): Promise<RotationRow | undefined> {
    const [r] = await em.query<RotationRow[]>('SELECT * FROM rotations WHERE action_id = $1', [actionId]);
    return r;
  }

  async setStatus(em: EntityManager | undefined, id: string, status: RotationStatus, error: StepRow['error'] = null): Promise<void> {
    await (em ?? this.ds.manager).query(
      `UPDATE rotations SET status = $2, error = $3::jsonb, completed_at = CASE WHEN $2::varchar = 'completed' THEN now() ELSE completed_at END WHERE id = $1`,
      [id, status, error ? JSON.stringify(error) : null],
    );
  }

  async setNewKey(
    em: EntityManager,
    id: string,
    k: { address: string; encryptedKey: Buffer; encryptedDataKey: Buffer; kmsKeyId: string },
  ): Promise<void> {
    await em.query(
      'UPDATE rotations SET new_address = $2, new_encrypted_key = $3, new_encrypted_data_key = $4, new_kms_key_id = $5 WHERE id = $1',
      [id, k.address, k.encryptedKey, k.encryptedDataKey, k.kmsKeyId],
    );
  }

  /** After the new key moved to its owner: the rotation keeps no ciphertext. */
  async clearNewKey(em: EntityManager, id: string): Promise<void> {
    await em.query('UPDATE rotations SET new_encrypted_key = NULL, new_encrypted_data_key = NULL, new_kms_key_id = NULL WHERE id = $1', [
      id,
    ]);
  }

  /** Steps numbered from `firstSeq` (idempotent: a seq already there stays). */
  async insertSteps(
    em: EntityManager,
    id: string,
    firstSeq: number,
    steps: Array<{ kind: StepKind; tokenId: string | null }>,
  ): Promise<void> {
    for (const [i, s] of steps.entries())
      await em.query('INSERT INTO rotation_steps (rotation_id, seq, kind, token_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
        id,
        firstSeq + i,
        s.kind,
        s.tokenId,
      ]);
  }

  /** A failed step runs again from scratch (its failed governance row stays on record; a new one is requested). */
  async reopenStep(em: EntityManager, id: string, seq: number): Promise<void> {
    await em.query(
      `UPDATE rotation_steps SET status = 'pending', transaction_id = NULL, error = NULL, updated_at = now() WHERE rotation_id = $1 AND seq = $2`,
      [id, seq],
    );
  }

  async hasStepsAfter(em: EntityManager, id: string, seq: number): Promise<boolean> {
    const [r] = await em.query<Array<{ n: number }>>('SELECT count(*)::int AS n FROM rotation_steps WHERE rotation_id = $1 AND seq > $2', [
      id,
      seq,
    ]);
    return (r?.n ?? 0) > 0;
  }

  steps(id: string, em?: EntityManager): Promise<StepRow[]> {
    return (em ?? this.ds.manager).query<StepRow[]>('SELECT * FROM rotation_steps WHERE rotation_id = $1 ORDER BY seq', [id]);
  }

  async markStep(
    em: EntityManager | undefined,
    id: string,
    seq: number,
    s: { status?: StepRow['status']; transactionId?: string; error?: StepRow['error'] },
  ): Promise<void> {
    await (em ?? this.ds.manager).query(
      `UPDATE rotation_steps SET status = coalesce($3, status), transaction_id = coalesce($4, transaction_id), error = $5::jsonb, updated_at = now()
        WHERE rotation_id = $1 AND seq = $2`,
      [id, seq, s.status ?? null, s.transactionId ?? null, s.error ? JSON.stringify(s.error) : null],
    );
  }
}
