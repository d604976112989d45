import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Bulk operations (issue 19): batches and their rows, distributions, orders; the holder-register fields of users; lots marked with their batch. */

export class BulkOperations1796170000200 implements MigrationInterface {
  name = 'BulkOperations1796170000200';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "batches" ("id" uuid NOT NULL, "operator_id" uuid NOT NULL, "token_id" uuid NOT NULL, "kind" character varying(24) NOT NULL, "status" character varying(24) NOT NULL, "atomic" boolean NOT NULL, "total" integer NOT NULL, "requested_by" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_55e7ff646e969b61d37eea5be7a" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_batches_token" ON "batches" ("token_id") `);
    await queryRunner.query(`CREATE INDEX "idx_batches_operator_created" ON "batches" ("operator_id", "created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "batch_items" ("batch_id" uuid NOT NULL, "row" integer NOT NULL, "user_id" uuid, "to_user_id" uuid, "amount" numeric(78,0), "legal_basis" jsonb, "instruction" jsonb, "status" character varying(24) NOT NULL, "transaction_id" uuid, "error" jsonb, CONSTRAINT "PK_7ddace0ee9da379fe5dae83664f" PRIMARY KEY ("batch_id", "row"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_batch_items_transaction" ON "batch_items" ("transaction_id") `);
    await queryRunner.query(
      `CREATE TABLE "distributions" ("id" uuid NOT NULL, "operator_id" uuid NOT NULL, "token_id" uuid NOT NULL, "kind" character varying(16) NOT NULL, "record_block" bigint NOT NULL, "record_date" date, "amount_per_token" character varying(40) NOT NULL, "payment_date" date NOT NULL, "totals" jsonb NOT NULL, "entitlements" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_b73beffd2ed658ba71d8bd7d820" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_distributions_token" ON "distributions" ("token_id") `);
    await queryRunner.query(`CREATE INDEX "idx_distributions_operator_created" ON "distributions" ("operator_id", "created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "orders" ("id" uuid NOT NULL, "operator_id" uuid NOT NULL, "transaction_ids" uuid array NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_710e2d4957aa5878dfe94e4ac2f" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_orders_operator_created" ON "orders" ("operator_id", "created_at", "id") `);
    await queryRunner.query(`ALTER TABLE "users" ADD "name_kana" character varying(200)`);
    await queryRunner.query(`ALTER TABLE "users" ADD "postal_address" character varying(500)`);
    await queryRunner.query(`ALTER TABLE "users" ADD "tax_class" character varying(16) NOT NULL DEFAULT 'individual'`);
    await queryRunner.query(`ALTER TABLE "transactions" ADD "batch_id" uuid`);
    await queryRunner.query(
      `CREATE INDEX "idx_transactions_batch_debits" ON "transactions" ("token_id", "status") WHERE batch_id IS NOT NULL`,
    );
    await queryRunner.query(`CREATE INDEX "idx_transactions_batch" ON "transactions" ("batch_id") `);
    await queryRunner.query(
      `ALTER TABLE "batches" ADD CONSTRAINT "FK_ef0937a971425dbcb10544e5c00" FOREIGN KEY ("token_id") REFERENCES "tokens"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "batch_items" ADD CONSTRAINT "FK_4052dad1531c1027609d0f1f06c" FOREIGN KEY ("batch_id") REFERENCES "batches"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "distributions" ADD CONSTRAINT "FK_6bbf4f58aef99a4be8cf9fa53b4" FOREIGN KEY ("token_id") REFERENCES "tokens"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "distributions" DROP CONSTRAINT "FK_6bbf4f58aef99a4be8cf9fa53b4"`);
    await queryRunner.query(`ALTER TABLE "batch_items" DROP CONSTRAINT "FK_4052dad1531c1027609d0f1f06c"`);
    await queryRunner.query(`ALTER TABLE "batches" DROP CONSTRAINT "FK_ef0937a971425dbcb10544e5c00"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_batch"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_batch_debits"`);
    await queryRunner.query(`ALTER TABLE "transactions" DROP COLUMN "batch_id"`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "tax_class"`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "postal_address"`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "name_kana"`);
    await queryRunner.query(`DROP INDEX "public"."idx_orders_operator_created"`);
    await queryRunner.query(`DROP TABLE "orders"`);
    await queryRunner.query(`DROP INDEX "public"."idx_distributions_operator_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_distributions_token"`);
    await queryRunner.query(`DROP TABLE "distributions"`);
    await queryRunner.query(`DROP INDEX "public"."idx_batch_items_transaction"`);
    await queryRunner.query(`DROP TABLE "batch_items"`);
    await queryRunner.query(`DROP INDEX "public"."idx_batches_operator_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_batches_token"`);
    await queryRunner.query(`DROP TABLE "batches"`);
  }
}
