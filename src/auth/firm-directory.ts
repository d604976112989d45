/**
 * The port through which authentication reads a staff member's firm, roles and status on
 * every request. The operators module owns the staff and operators tables and provides it,
 * so auth never queries them itself.
 */
import type { FirmRole } from '../common/principal';

export interface StaffState {
  operatorId: string;
  roles: FirmRole[];
  status: 'active' | 'suspended';
  firmStatus: 'active' | 'suspended';
}

export abstract class FirmDirectory {
  /** undefined: not a staff member. */
  abstract staffState(staffId: string): Promise<StaffState | undefined>;
  abstract firmStatus(operatorId: string): Promise<'active' | 'suspended' | undefined>;
}
