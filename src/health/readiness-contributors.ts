import { Injectable } from '@nestjs/common';

/** Other modules add readiness checks here (e.g. custody reconciliation) without health importing them. */
@Injectable()
export class ReadinessContributors {
  readonly list: Array<{ name: string; check: () => Promise<unknown> }> = [];

  add(name: string, check: () => Promise<unknown>): void {
    this.list.push({ name, check });
  }
}
