/** Finds any of the given secrets in text: raw bytes (latin1), hex with or without 0x, base64 and base64url. */
export function secretForms(secret: Uint8Array): string[] {
  const b = Buffer.from(secret);
  return [b.toString('hex'), b.toString('hex').toUpperCase(), b.toString('base64'), b.toString('base64url'), b.toString('latin1')].filter((s) => s.length >= 16);
}

export function findSecrets(text: string, secrets: Uint8Array[]): string[] {
  const hits: string[] = [];
  for (const s of secrets) {
    for (const form of secretForms(s)) {
      if (text.includes(form)) hits.push(`secret found (${form.length}-char form)`);
    }
  }
  return hits;
}
