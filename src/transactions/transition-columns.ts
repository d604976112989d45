/** SQL shared by the transactions table's two repositories. */
import type { PipelineScope } from './pipeline/state';

/** The columns a transition hook and a finality handler read. */
export const TRANSITION_COLUMNS = `t.id, t.kind, t.status, t.token_id AS "tokenId", t.user_id AS "userId", t.operator_id AS "operatorId",
  t.requested_by_type AS "requestedByType", t.request, t.call_args AS "callArgs"`;

/** The rows a pipeline of that scope works on (governance rows are signed by the governance process). */
export function scopeSql(scope: PipelineScope): string {
  if (scope === 'keys') return ` AND t.signer_kind <> 'governance'`;
  if (scope === 'governance') return ` AND t.signer_kind = 'governance'`;
  return '';
}
