import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Tokens1795553062776 implements MigrationInterface {
  name = 'Tokens1795553062776';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "issuers" ("id" uuid NOT NULL, "name" character varying(200) NOT NULL, "signer_address" character varying(42) NOT NULL, "encrypted_key" bytea NOT NULL, "encrypted_data_key" bytea NOT NULL, "kms_key_id" character varying(2048) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_36d87e2e6d1edfcbdc561deeaf9" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_issuers_created" ON "issuers" ("created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "issuer_grants" ("issuer_id" uuid NOT NULL, "operator_id" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_28550b5c30132ab629fe2947f44" PRIMARY KEY ("issuer_id", "operator_id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_issuer_grants_operator" ON "issuer_grants" ("operator_id") `);
    await queryRunner.query(
      `CREATE TABLE "tokens" ("id" uuid NOT NULL, "operator_id" uuid NOT NULL, "issuer_id" uuid, "name" character varying(100) NOT NULL, "symbol" character varying(16) NOT NULL, "decimals" smallint NOT NULL, "signer_kind" character varying(16) NOT NULL, "signer_id" uuid NOT NULL, "signer_address" character varying(42) NOT NULL, "address" character varying(42), "status" character varying(16) NOT NULL, "deploy_transaction_id" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_3001e89ada36263dabf1fb6210a" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_tokens_created" ON "tokens" ("created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "idx_tokens_issuer" ON "tokens" ("issuer_id") `);
    await queryRunner.query(`CREATE INDEX "idx_tokens_operator_created" ON "tokens" ("operator_id", "created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "governance_keys" ("id" uuid NOT NULL, "address" character varying(42) NOT NULL, "encrypted_key" bytea NOT NULL, "encrypted_data_key" bytea NOT NULL, "kms_key_id" character varying(2048) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_e68a37db258e1c12a896974812e" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "transactions" ("id" uuid NOT NULL, "token_id" uuid, "kind" character varying(32) NOT NULL, "status" character varying(16) NOT NULL, "operator_id" uuid NOT NULL, "requested_by_type" character varying(16) NOT NULL, "user_id" uuid, "signer_kind" character varying(16) NOT NULL, "signer_id" uuid NOT NULL, "from_address" character varying(42) NOT NULL, "to_address" character varying(42), "call_data" text NOT NULL, "debit_address" character varying(42), "debit_amount" numeric(78,0), "nonce" integer, "tx_hash" character varying(66), "raw_tx" text, "block_number" bigint, "attempts" integer NOT NULL DEFAULT '0', "error" jsonb, "request" jsonb NOT NULL, "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL, "submitted_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_a219afd8dd77ed80f5a862f1db9" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_transactions_created" ON "transactions" ("created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "idx_transactions_user" ON "transactions" ("user_id") `);
    await queryRunner.query(`CREATE INDEX "idx_transactions_token" ON "transactions" ("token_id") `);
    await queryRunner.query(`CREATE INDEX "idx_transactions_operator_created" ON "transactions" ("operator_id", "created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "idx_transactions_status" ON "transactions" ("status") `);
    await queryRunner.query(`CREATE INDEX "idx_transactions_signer_queue" ON "transactions" ("from_address", "status", "created_at") `);
    await queryRunner.query(
      `CREATE TABLE "signer_nonces" ("address" character varying(42) NOT NULL, "next_nonce" integer NOT NULL, CONSTRAINT "PK_6355e6e28bedb24d101de16b9e0" PRIMARY KEY ("address"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "idempotency_keys" ("principal_id" uuid NOT NULL, "key" character varying(255) NOT NULL, "request_hash" character varying(64) NOT NULL, "state" character varying(16) NOT NULL, "resource_id" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_3df5494b04add5b16d8608a3876" PRIMARY KEY ("principal_id", "key"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_idempotency_created" ON "idempotency_keys" ("created_at") `);
    await queryRunner.query(
      `ALTER TABLE "issuer_grants" ADD CONSTRAINT "FK_1adc3664f292c39edefc2aeef2a" FOREIGN KEY ("issuer_id") REFERENCES "issuers"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "issuer_grants" ADD CONSTRAINT "FK_50fb194cf80ad434ed4c8658b67" FOREIGN KEY ("operator_id") REFERENCES "operators"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "issuer_grants" DROP CONSTRAINT "FK_50fb194cf80ad434ed4c8658b67"`);
    await queryRunner.query(`ALTER TABLE "issuer_grants" DROP CONSTRAINT "FK_1adc3664f292c39edefc2aeef2a"`);
    await queryRunner.query(`DROP INDEX "public"."idx_idempotency_created"`);
    await queryRunner.query(`DROP TABLE "idempotency_keys"`);
    await queryRunner.query(`DROP TABLE "signer_nonces"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_signer_queue"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_status"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_operator_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_token"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_user"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_created"`);
    await queryRunner.query(`DROP TABLE "transactions"`);
    await queryRunner.query(`DROP TABLE "governance_keys"`);
    await queryRunner.query(`DROP INDEX "public"."idx_tokens_operator_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_tokens_issuer"`);
    await queryRunner.query(`DROP INDEX "public"."idx_tokens_created"`);
    await queryRunner.query(`DROP TABLE "tokens"`);
    await queryRunner.query(`DROP INDEX "public"."idx_issuer_grants_operator"`);
    await queryRunner.query(`DROP TABLE "issuer_grants"`);
    await queryRunner.query(`DROP INDEX "public"."idx_issuers_created"`);
    await queryRunner.query(`DROP TABLE "issuers"`);
  }
}
