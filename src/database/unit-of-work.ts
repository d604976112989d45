/**
 * One database transaction for a service that spans several owners' tables (each owner's
 * repository takes the `em`), so services need not inject the DataSource to open one.
 */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

@Injectable()
export class UnitOfWork {
  constructor(private readonly ds: DataSource) {}

  run<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(fn);
  }
}
