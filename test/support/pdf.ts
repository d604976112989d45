/** PDF text extraction with pdfjs-dist (v4, Node 20). Test-only: reads the printed key back. */
export async function pdfText(data: Uint8Array): Promise<string> {
  const pdfjs = (await import('pdfjs-dist/legacy/build/pdf.mjs')) as typeof import('pdfjs-dist');
  const doc = await pdfjs.getDocument({ data: new Uint8Array(data), useSystemFonts: false, isEvalSupported: false, verbosity: 0 }).promise;
  const parts: string[] = [];
  for (let i = 1; i <= doc.numPages; i++) {
    const page = await doc.getPage(i);
    const content = await page.getTextContent();
    parts.push(content.items.map((it) => ('str' in it ? it.str : '')).join('\n'));
  }
  await doc.destroy();
  return parts.join('\n');
}

export function printedPrivateKey(text: string): `0x${string}` {
  const m = /0x[0-9a-f]{64}/.exec(text.replace(/\s+/g, ''));
  if (!m) throw new Error('no private key printed in the PDF');
  return m[0] as `0x${string}`;
}
