/**
 * The one configuration schema of kagi. Every variable of the API contract's
 * Configuration table is read here, once, at boot; nothing else reads process.env.
 * A bad or missing value stops start-up with one line naming the variable.
 */
import { z } from 'zod';
import { getAddress, isAddress } from 'viem';

/** The admin password shipped in .env.example: fine for a laptop, refused in production. */
export const EXAMPLE_ADMIN_PASSWORD = 'kagi-dev-password-change-me';
export const DEFAULT_DEV_ADMIN_LOGIN_ID = 'admin';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce.number({ message: 'expected a port number' }).int().min(0).max(65535);

const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h)?$/, 'expected a duration such as 900, 900s, 15m or 1h')
  .transform((v) => {
    const m = /^(\d+)(ms|s|m|h)?$/.exec(v);
    const n = Number(m?.[1]);
    const unit = m?.[2] ?? 's';
    const factor = unit === 'ms' ? 0.001 : unit === 's' ? 1 : unit === 'm' ? 60 : 3600;
    return Math.floor(n * factor);
  })
  .refine((s) => s >= 30 && s <= 86_400, 'must be between 30 s and 24 h');

/** A short interval in milliseconds (`500ms`, `10s`, `1m`); tests set seconds, production the default. */
const intervalMs = z
  .string()
  .regex(/^\d+(ms|s|m|h)?$/, 'expected a duration such as 60s, 5m or 500ms')
  .transform((v) => {
    const m = /^(\d+)(ms|s|m|h)?$/.exec(v);
    const n = Number(m?.[1]);
    const unit = m?.[2] ?? 's';
    return n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
  })
  .refine((ms) => ms >= 200 && ms <= 86_400_000, 'must be between 200 ms and 24 h');
/**
 * A client-side deadline in milliseconds (`1500ms`, `8s`; a bare number is seconds), 100 ms to
 * 5 min: how long kagi waits for a dependency that may have stopped answering.
 */
const deadlineMs = z
  .string()
  .regex(/^\d+(ms|s|m)?$/, 'expected a duration such as 1500ms or 8s')
  .transform((v) => {
    const m = /^(\d+)(ms|s|m)?$/.exec(v);
    const n = Number(m?.[1]);
    const unit = m?.[2] ?? 's';
    return n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60_000);
  })
  .refine((ms) => ms >= 100 && ms <= 300_000, 'must be between 100 ms and 5 min');
/** A duration that may be 0 (off), up to 30 days. */
const delay = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)?$/, 'expected a duration such as 0, 900s, 15m, 24h or 7d')
  .transform((v) => {
    const m = /^(\d+)(ms|s|m|h|d)?$/.exec(v);
    const n = Number(m?.[1]);
    const unit = m?.[2] ?? 's';
    const factor = unit === 'ms' ? 0.001 : unit === 's' ? 1 : unit === 'm' ? 60 : unit === 'h' ? 3600 : 86_400;
    return Math.floor(n * factor);
  })
  .refine((s) => s <= 30 * 86_400, 'must be at most 30 days');

const MFA_SUBJECTS = ['admin', 'firm-admin', 'checker', 'maker'] as const;
export type MfaSubject = (typeof MFA_SUBJECTS)[number];

const mfaList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .refine(
    (list) => list.every((x) => (MFA_SUBJECTS as readonly string[]).includes(x)),
    `expected a comma list of ${MFA_SUBJECTS.join(', ')}`,
  )
  .transform((list) => [...new Set(list)] as MfaSubject[]);

const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    `expected a ${protocols.join(' or ')} URL`,
  );

/**
 * The token contracts' admin: a typo here hands every token to an address nobody controls,
 * so only the EIP-55 checksummed form is accepted (its checksum catches a mistyped digit),
 * and never the zero address.
 */
const checksummedAddress = z
  .string()
  .refine((v) => isAddress(v, { strict: false }), 'expected a 0x-prefixed 20-byte address')
  .refine(
    (v) => !isAddress(v, { strict: false }) || getAddress(v) === v,
    'expected the EIP-55 checksummed form of the address (mixed case)',
  )
  .refine((v) => !/^0x0{40}$/.test(v), 'must not be the zero address')
  .transform((v) => getAddress(v));

export const rawSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('production'),
  PORT: port.default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('.data'),
  ANVIL_PORT: port.default(8545),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  /** Client-side: a stopped server enforces no statement_timeout (README, "Hung dependencies"). */
  DATABASE_QUERY_TIMEOUT: deadlineMs.default(8_000),
  DATABASE_CONNECT_TIMEOUT: deadlineMs.default(5_000),
  KMS_PROVIDER: z.enum(['aws', 'local']).optional(),
  KMS_KEY_ID: z.string().min(1).default('alias/kagi'),
  KMS_ENDPOINT: url(['http:', 'https:']).optional(),
  AWS_REGION: z.string().min(1).optional(),
  KMS_DATA_KEY_CACHE_MAX_AGE_MS: z.coerce.number().int().min(0).max(3_600_000).default(0),
  KMS_DATA_KEY_CACHE_MAX_USES: z.coerce.number().int().min(0).max(1_000_000).default(0),
  CHAIN_RPC_URL: url(['http:', 'https:', 'ws:', 'wss:']).optional(),
  CHAIN_ID: z.coerce.number().int().positive().optional(),
  CHAIN_CONFIRMATIONS: z.coerce.number().int().min(1).max(1000).default(1),
  /** Per attempt (one retry): reads that answer a request (pre-checks, GET reads, readiness). */
  CHAIN_READ_TIMEOUT: deadlineMs.default(1_000),
  /** Per attempt (one retry): the pipeline's sends and reads, where an error means "again later". */
  CHAIN_PIPELINE_TIMEOUT: deadlineMs.default(10_000),
  FEE_MAX_GWEI: z.coerce.number().positive().max(100_000).default(500),
  FEE_BUMP_PERCENT: z.coerce.number().int().min(10).max(500).default(25),
  TX_STUCK_AFTER_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  GOVERNANCE_SIGNER: z.enum(['kms', 'external', 'local']).optional(),
  GOVERNANCE_KMS_KEY_ID: z.string().min(1).max(2048).optional(),
  GOVERNANCE_ADDRESS: checksummedAddress.optional(),
  /** `local` only: governance rows are signed by `npm run governance` (as under `kms`), not the API (`npm run dev` sets it). */
  GOVERNANCE_OWN_PROCESS: bool.default(false),
  JWT_SIGNING_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  ACCESS_TOKEN_TTL: duration.default(900),
  PLATFORM_ADMIN_LOGIN_ID: z.string().min(3).max(64).optional(),
  PLATFORM_ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  SMTP_URL: url(['smtp:', 'smtps:']).optional(),
  SMTP_FROM: z.string().min(3).default('kagi <no-reply@kagi.local>'),
  OPS_NOTIFY_EMAILS: z
    .string()
    .optional()
    .transform((v) =>
      v
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [],
    )
    .refine((list) => list.every((e) => /^[^@\s]+@[^@\s]+$/.test(e)), 'expected a comma-separated list of e-mail addresses'),
  WALLET_HTTP_ISSUANCE: bool.default(false),
  DEV_GAS_FUNDING: bool.default(false),
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  TRUST_PROXY: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === '' || v === 'false' ? false : v === 'true' ? true : /^\d+$/.test(v) ? Number(v) : v)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DOCS_ENABLED: bool.default(true),
  METRICS_ENABLED: bool.default(true),
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/, 'expected a size such as 100kb')
    .default('100kb'),
  ARGON2_MEMORY_KIB: z.coerce.number().int().min(1024).max(1_048_576).default(19_456),
  ARGON2_ITERATIONS: z.coerce.number().int().min(1).max(20).default(2),
  ARGON2_MAX_CONCURRENT: z.coerce.number().int().min(1).max(256).default(4),
  MFA_REQUIRED_FOR: mfaList.optional(),
  REQUIRE_MFA_FOR_APPROVAL: bool.optional(),
  CONTROL_CHANGE_DELAY: delay.optional(),
  // At least 1 minute in production (checked in app-config.ts); tests use seconds to see expiry happen.
  APPROVAL_TTL: delay.default(86_400).refine((s) => s >= 1, 'must be at least 1 s'),
  REQUIRE_LEGAL_BASIS: bool.optional(),
  PLATFORM_FOUR_EYES: bool.optional(),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
  LOGIN_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(30),
  AUDIT_ANCHOR_INTERVAL: intervalMs.default(60_000),
  WEBHOOK_ALLOW_PRIVATE: bool.optional(),
  /** Tests only: the first retry delay of a webhook delivery (contract: 5 s) and how long an endpoint may fail before it is disabled (24 h). */
  WEBHOOK_RETRY_BASE: intervalMs.optional(),
  WEBHOOK_DISABLE_AFTER: intervalMs.optional(),
});
