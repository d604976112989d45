import { ERROR_CODES, type ErrorCode } from './error-codes';

export interface FieldError {
  field: string;
  message: string;
}

/**
 * The one error type a client ever sees. `detail` is shown to the client: it must never
 * carry key material, SQL, stack traces or another tenant's data.
 */
export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    readonly detail: string = ERROR_CODES[code].title,
    readonly options: { errors?: FieldError[]; headers?: Record<string, string>; status?: number } = {},
  ) {
    super(detail);
    this.name = 'AppError';
    this.status = options.status ?? ERROR_CODES[code].status;
  }
}

export class NotFoundError extends AppError {
  constructor(what = 'Resource') {
    super('NOT_FOUND', `${what} not found`);
  }
}

export class ValidationError extends AppError {
  constructor(errors: FieldError[], detail = 'The request is not valid') {
    super('VALIDATION_FAILED', detail, { errors });
  }
}
