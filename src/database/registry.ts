/**
 * Every entity and migration is listed here explicitly (no globs), so the same list
 * works from TypeScript sources under Vitest and from the SWC build under Node.
 */
import type { MixedList } from 'typeorm';
import { AuditEvent } from '../audit/audit-event.entity';
import { Init1795549504363 } from './migrations/1795549504363-Init';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const ENTITIES: MixedList<Function> = [AuditEvent];

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const MIGRATIONS: MixedList<Function> = [Init1795549504363];
