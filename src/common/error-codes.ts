/**
 * The contract's error codes, one place. The OpenAPI document lists the same table
 * (see configure-app.ts), so clients and docs never drift from the code.
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, title: 'Validation failed', when: 'bad field, unknown field, malformed JSON, bad amount or address' },
  UNAUTHENTICATED: { status: 401, title: 'Unauthenticated', when: 'no, bad, expired or revoked token' },
  INVALID_CREDENTIALS: {
    status: 401,
    title: 'Invalid credentials',
    when: 'login: wrong id, password or one-time code (same answer for all)',
  },
  MFA_REQUIRED: {
    status: 401,
    title: 'MFA required',
    when: 'login with the right password but no otp while TOTP is enabled; an approval without a valid otp',
  },
  FORBIDDEN: { status: 403, title: 'Forbidden', when: 'right principal kind missing' },
  ACCOUNT_SUSPENDED: { status: 403, title: 'Account suspended', when: 'login or call by a suspended firm or staff member' },
  PASSWORD_CHANGE_REQUIRED: {
    status: 403,
    title: 'Password change required',
    when: 'any call but GET /v1/auth/me and POST /v1/auth/password while the principal must change its password',
  },
  SELF_APPROVAL: {
    status: 403,
    title: 'Self approval',
    when: 'a checker (or admin) approving its own request, or one made through an API key it owns',
  },
  MFA_NOT_ENABLED: {
    status: 403,
    title: 'MFA not enabled',
    when: 'a write (or an approval) while MFA is required and the principal has no TOTP',
  },
  NOT_FOUND: { status: 404, title: 'Not found', when: 'unknown or foreign id, unknown route' },
  LOGIN_ID_TAKEN: { status: 409, title: 'Login id taken', when: 'loginId already used by any principal' },
  EXTERNAL_REF_TAKEN: { status: 409, title: 'External reference taken', when: 'the operator already has a user with that externalRef' },
  WALLET_ALREADY_ISSUED: {
    status: 409,
    title: 'Wallet already issued',
    when: 'wallet issuance while a wallet exists, without reissue=true',
  },
  WALLET_NOT_ISSUED: { status: 409, title: 'Wallet not issued', when: 'token operation naming a user without a wallet' },
  TOKEN_NOT_ACTIVE: { status: 409, title: 'Token not active', when: 'operation on a token still deploying or failed' },
  TOKEN_PAUSED: { status: 409, title: 'Token paused', when: 'operation (other than unpause) on a paused token' },
  ADDRESS_FROZEN: { status: 409, title: 'Address frozen', when: 'receiving side frozen; holder-side freeze where it matters' },
  INSUFFICIENT_BALANCE: {
    status: 409,
    title: 'Insufficient balance',
    when: "wallet balance, or the user's custody balance, too small now",
  },
  NOTHING_TO_RECOVER: { status: 409, title: 'Nothing to recover', when: 'recover with no balance on previous wallets' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, title: 'Idempotency key in use', when: 'same key while the first request is still running' },
  TOKEN_VERSION_UNSUPPORTED: {
    status: 409,
    title: 'Token version unsupported',
    when: "a feature the token's deployed contract version lacks (e.g. batches on a v1 token)",
  },
  GOVERNANCE_PAUSED: {
    status: 409,
    title: 'Paused by governance',
    when: 'operation on a token paused by governance (only an admin emergency unpause lifts it)',
  },
  NOT_CANCELLABLE: { status: 409, title: 'Not cancellable', when: 'cancel of a transaction that is neither pending_approval nor queued' },
  NOT_PENDING: { status: 409, title: 'Not pending', when: 'approve/reject of a transaction, batch or control change that is not pending' },
  ALREADY_APPROVED: { status: 409, title: 'Already approved', when: 'the same checker approves twice' },
  LAST_FIRM_ADMIN: { status: 409, title: 'Last firm-admin', when: "suspending or demoting the firm's last active firm-admin" },
  APPLICATION_NOT_PENDING: {
    status: 409,
    title: 'Application not pending',
    when: 'approve/reject of an operator application already decided or expired',
  },
  ROTATION_IN_PROGRESS: { status: 409, title: 'Rotation in progress', when: 'a second key rotation of the same signer while one runs' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large', when: 'body over the limit' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Idempotency key reused', when: 'same key, different body' },
  ISSUER_NOT_GRANTED: { status: 422, title: 'Issuer not granted', when: 'operator names an issuer it is not granted' },
  WEAK_PASSWORD: { status: 422, title: 'Weak password', when: 'password rules not met' },
  BATCH_INVALID: {
    status: 422,
    title: 'Batch invalid',
    when: 'an atomic batch or order with at least one invalid row; body has rows: [{row, field, code, message}]',
  },
  ACCOUNT_LOCKED: { status: 429, title: 'Account locked', when: 'login after 5 failures in 15 min for that loginId; Retry-After' },
  RATE_LIMITED: { status: 429, title: 'Rate limited', when: 'too many requests from one client; Retry-After' },
  KMS_UNAVAILABLE: { status: 503, title: 'KMS unavailable', when: 'a synchronous KMS call failed' },
  CHAIN_UNAVAILABLE: { status: 503, title: 'Chain unavailable', when: 'a pre-check or read could not reach the chain' },
  DATABASE_UNAVAILABLE: {
    status: 503,
    title: 'Database unavailable',
    when: 'the database could not be reached (restart, failover); retry; Retry-After',
  },
  FEATURE_DISABLED: { status: 503, title: 'Feature disabled', when: 'HTTP wallet issuance switched off' },
  INTERNAL: { status: 500, title: 'Internal error', when: 'anything else (logged with the request id; no detail to the client)' },
} as const satisfies Record<string, { status: number; title: string; when: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function problemType(code: ErrorCode): string {
  return `https://kagi.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`;
}
