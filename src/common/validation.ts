import { ValidationPipe, type ValidationError as CvError } from '@nestjs/common';
import { ValidationError, type FieldError } from './app-error';

function flatten(errors: CvError[], prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    for (const [rule, message] of Object.entries(e.constraints ?? {})) {
      out.push({ field, message: rule === 'whitelistValidation' ? `${field} is not an allowed field` : message });
    }
    if (e.children?.length) out.push(...flatten(e.children, field));
  }
  return out;
}

/** whitelist + forbidNonWhitelisted: unknown fields are refused, never silently dropped. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: false,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => new ValidationError(flatten(errors)),
  });
}
