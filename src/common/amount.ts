import { registerDecorator, type ValidationOptions } from 'class-validator';

const MAX_UINT256 = (1n << 256n) - 1n;

/** Token amounts: decimal strings of integer base units, digits only, > 0, ≤ 2^256−1. */
function isAmount(v: unknown): v is string {
  if (typeof v !== 'string' || !/^[1-9][0-9]{0,77}$/.test(v)) return false;
  return BigInt(v) <= MAX_UINT256;
}

export function IsAmount(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isAmount',
      target: object.constructor,
      propertyName,
      options: { message: `${propertyName} must be a decimal string of base units, > 0 and ≤ 2^256−1`, ...options },
      validator: { validate: isAmount },
    });
}
