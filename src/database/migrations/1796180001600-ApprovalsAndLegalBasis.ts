import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Four eyes and legal basis (issue 16): who asked, the legal basis, and the approvals of each
 * transaction on its row; the firms' approval policies and the platform floor in their own
 * tables (owned by src/approvals, raw SQL like control_changes). Rows from before keep
 * `requested_by` null (the firm's id stands for the requester) and need no approval.
 */
export class ApprovalsAndLegalBasis1796180001600 implements MigrationInterface {
  name = 'ApprovalsAndLegalBasis1796180001600';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "transactions" ADD "requested_by" jsonb`);
    await queryRunner.query(`ALTER TABLE "transactions" ADD "legal_basis" jsonb`);
    await queryRunner.query(`ALTER TABLE "transactions" ADD "approvals_required" smallint NOT NULL DEFAULT '0'`);
    await queryRunner.query(`ALTER TABLE "transactions" ADD "approvals_given" jsonb NOT NULL DEFAULT '[]'`);
    await queryRunner.query(
      `CREATE INDEX "idx_transactions_pending_approval" ON "transactions" ("operator_id", "created_at", "id") WHERE status = 'pending_approval'`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_transactions_legal_basis_code" ON "transactions" ("operator_id", ((legal_basis->>'code'))) WHERE legal_basis IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE TABLE "approval_policies" ("operator_id" uuid NOT NULL, "rules" jsonb NOT NULL, "updated_by" character varying(64), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_approval_policies" PRIMARY KEY ("operator_id"),
        CONSTRAINT "FK_approval_policies_operator" FOREIGN KEY ("operator_id") REFERENCES "operators"("id") ON DELETE CASCADE)`,
    );
    await queryRunner.query(
      `CREATE TABLE "platform_policy" ("id" smallint NOT NULL DEFAULT 1, "rules" jsonb NOT NULL, "updated_by" character varying(64), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_platform_policy" PRIMARY KEY ("id"), CONSTRAINT "chk_platform_policy_single" CHECK ("id" = 1))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "platform_policy"`);
    await queryRunner.query(`DROP TABLE "approval_policies"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_legal_basis_code"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_pending_approval"`);
    await queryRunner.query(`ALTER TABLE "transactions" DROP COLUMN "approvals_given"`);
    await queryRunner.query(`ALTER TABLE "transactions" DROP COLUMN "approvals_required"`);
    await queryRunner.query(`ALTER TABLE "transactions" DROP COLUMN "legal_basis"`);
    await queryRunner.query(`ALTER TABLE "transactions" DROP COLUMN "requested_by"`);
  }
}
