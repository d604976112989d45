/**
 * The encryption context binds a data key to its owner. The same context goes to KMS
 * (EncryptionContext) and, canonically encoded, into AES-GCM as additional
 * authenticated data. It is always rebuilt from trusted identity, never read back from
 * a stored column.
 */
export type EncryptionContext = Readonly<Record<string, string>>;

/**
 * Canonical, length-prefixed encoding: keys sorted by code unit, each entry as
 * u16 key length, key bytes, u16 value length, value bytes (UTF-8), preceded by a u16
 * entry count. Unambiguous: no separator a value could smuggle.
 */
export function encodeContext(ctx: EncryptionContext): Buffer {
  const keys = Object.keys(ctx).sort();
  const parts: Buffer[] = [];
  const count = Buffer.alloc(2);
  count.writeUInt16BE(keys.length);
  parts.push(count);
  for (const k of keys) {
    for (const s of [k, ctx[k] ?? '']) {
      const b = Buffer.from(s, 'utf8');
      if (b.length > 0xffff) throw new Error('encryption context entry too long');
      const len = Buffer.alloc(2);
      len.writeUInt16BE(b.length);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}
