/** A rotation as its routes answer it: the row and its steps, in step order. */
import type { RotationRow, StepRow } from './rotations.repository';

export interface RotationView {
  id: string;
  actionId: string | null;
  signer: { kind: string; id: string };
  oldAddress: string;
  newAddress: string | null;
  status: string;
  error: { code: string; message: string } | null;
  steps: Array<{ kind: string; tokenId: string | null; transactionId: string | null; status: string; error: StepRow['error'] }>;
  createdAt: string;
  completedAt: string | null;
}

export function toRotationView(r: RotationRow, steps: readonly StepRow[]): RotationView {
  return {
    id: r.id,
    actionId: r.action_id,
    signer: { kind: r.signer_kind, id: r.signer_id },
    oldAddress: r.old_address,
    newAddress: r.new_address,
    status: r.status,
    error: r.error,
    steps: steps.map((s) => ({ kind: s.kind, tokenId: s.token_id, transactionId: s.transaction_id, status: s.status, error: s.error })),
    createdAt: new Date(r.created_at).toISOString(),
    completedAt: r.completed_at ? new Date(r.completed_at).toISOString() : null,
  };
}
