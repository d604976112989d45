import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The durable job table of src/jobs (see its header for the semantics) and the
 * schedule table that lets several instances enqueue each scheduled slot once.
 * Every index serves one query of src/jobs/jobs.repository.ts, named next to it.
 */
export class Jobs1796155360981 implements MigrationInterface {
  name = 'Jobs1796155360981';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "jobs" (
        "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
        "type" text NOT NULL,
        "key" text,
        "singleton_key" text,
        "payload" jsonb NOT NULL DEFAULT '{}',
        "state" text NOT NULL DEFAULT 'pending',
        "run_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "attempts" integer NOT NULL DEFAULT 0,
        "max_attempts" integer NOT NULL DEFAULT 25,
        "last_error" text,
        "locked_by" text,
        "locked_until" TIMESTAMP WITH TIME ZONE,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "finished_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "PK_jobs" PRIMARY KEY ("id"),
        CONSTRAINT "CHK_jobs_state" CHECK ("state" IN ('pending', 'running', 'done', 'failed')),
        CONSTRAINT "CHK_jobs_max_attempts" CHECK ("max_attempts" >= 1),
        CONSTRAINT "CHK_jobs_type" CHECK (length("type") BETWEEN 1 AND 128),
        CONSTRAINT "CHK_jobs_key" CHECK ("key" IS NULL OR length("key") BETWEEN 1 AND 256)
      )`,
    );
    // claim: due pending jobs in order.
    await queryRunner.query(`CREATE INDEX "idx_jobs_due" ON "jobs" ("run_at", "id") WHERE state = 'pending'`);
    // claim: "is an earlier job of this key still open?" (serial keys).
    await queryRunner.query(`CREATE INDEX "idx_jobs_key_open" ON "jobs" ("key", "id") WHERE key IS NOT NULL AND state <> 'done'`);
    // reap: running jobs whose lease ran out (their worker died).
    await queryRunner.query(`CREATE INDEX "idx_jobs_lease" ON "jobs" ("locked_until") WHERE state = 'running'`);
    // enqueue: at most one open job per singleton key.
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_jobs_singleton" ON "jobs" ("singleton_key") WHERE singleton_key IS NOT NULL AND state IN ('pending', 'running')`,
    );
    // prune: finished jobs past their retention.
    await queryRunner.query(`CREATE INDEX "idx_jobs_done" ON "jobs" ("finished_at") WHERE state = 'done'`);
    await queryRunner.query(
      `CREATE TABLE "job_schedules" (
        "name" text NOT NULL,
        "type" text NOT NULL,
        "spec" text NOT NULL,
        "next_run_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "last_job_id" bigint,
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_job_schedules" PRIMARY KEY ("name"),
        CONSTRAINT "FK_job_schedules_last_job" FOREIGN KEY ("last_job_id") REFERENCES "jobs"("id") ON DELETE SET NULL
      )`,
    );
    await queryRunner.query(`CREATE INDEX "idx_job_schedules_last_job" ON "job_schedules" ("last_job_id")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_job_schedules_last_job"`);
    await queryRunner.query(`DROP TABLE "job_schedules"`);
    await queryRunner.query(`DROP INDEX "public"."idx_jobs_done"`);
    await queryRunner.query(`DROP INDEX "public"."uq_jobs_singleton"`);
    await queryRunner.query(`DROP INDEX "public"."idx_jobs_lease"`);
    await queryRunner.query(`DROP INDEX "public"."idx_jobs_key_open"`);
    await queryRunner.query(`DROP INDEX "public"."idx_jobs_due"`);
    await queryRunner.query(`DROP TABLE "jobs"`);
  }
}
