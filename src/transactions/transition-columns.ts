/** SQL shared by the transactions table's two repositories. */
import type { PipelineScope } from './pipeline/state';

/**
 * The columns a transition hook and a finality handler read: the row as the Transaction answer
 * is built from it (toTxDto), so a hook that reports the change (the webhook outbox) needs no
 * read of its own.
 */
export const TRANSITION_COLUMNS = `t.id, t.kind, t.status, t.token_id AS "tokenId", t.user_id AS "userId", t.operator_id AS "operatorId",
  t.requested_by_type AS "requestedByType", t.request, t.call_args AS "callArgs", t.from_address AS "fromAddress", t.nonce,
  t.tx_hash AS "txHash", t.replaced_hashes AS "replacedHashes", t.block_number AS "blockNumber", t.attempts, t.error,
  t.requested_by AS "requestedBy", t.approvals_required AS "approvalsRequired", t.approvals_given AS "approvalsGiven",
  t.legal_basis AS "legalBasis", t.batch_id AS "batchId", t.created_at AS "createdAt", t.updated_at AS "updatedAt"`;

/** The rows a pipeline of that scope works on (governance rows are signed by the governance process). */
export function scopeSql(scope: PipelineScope): string {
  if (scope === 'keys') return ` AND t.signer_kind <> 'governance'`;
  if (scope === 'governance') return ` AND t.signer_kind = 'governance'`;
  return '';
}
