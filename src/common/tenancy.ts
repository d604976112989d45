/**
 * Tenancy in one place: which firm (operator) a principal acts for, and the scope a query is
 * limited to. Admins see every firm (null scope); staff and API keys see only their firm, and a
 * foreign id answers exactly as an unknown one (404).
 */
export interface Tenant {
  type: 'admin' | 'operator';
  id: string;
  /** The firm of a staff member or API key (for a firm's first staff member, equal to `id`). */
  operatorId?: string;
}

/** The firm a principal acts for; null for platform admins. */
export function firmOf(p: Tenant): string | null {
  return p.type === 'admin' ? null : (p.operatorId ?? p.id);
}

/** The firm a principal acts for; throws for an admin (callers use it on firm-only routes). */
export function requireFirm(p: Tenant): string {
  const firm = firmOf(p);
  if (!firm) throw new Error('a firm principal is required here');
  return firm;
}

/** True when a row owned by `operatorId` is visible to `p`. */
export function sees(p: Tenant, operatorId: string): boolean {
  const firm = firmOf(p);
  return firm === null || firm === operatorId;
}
