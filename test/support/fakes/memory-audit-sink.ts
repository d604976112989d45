/** Test double of the audit port: keeps events in memory for assertions. */
import { AuditSink, type AuditRecord } from '../../../src/audit/audit-sink';

export class MemoryAuditSink extends AuditSink {
  readonly events: AuditRecord[] = [];

  record(e: AuditRecord): Promise<void> {
    this.events.push(e);
    return Promise.resolve();
  }

  recordMany(es: readonly AuditRecord[]): Promise<void> {
    this.events.push(...es);
    return Promise.resolve();
  }

  /** Needs a database; no unit test runs SQL through the memory sink. */
  recordWith<R>(): Promise<R[]> {
    return Promise.reject(new Error('MemoryAuditSink cannot run SQL'));
  }
}
