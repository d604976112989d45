/** Reading a password-protected PDF with pdf.js (test-only). */
export async function pdfTextWithPassword(data: Uint8Array, password?: string): Promise<string> {
  const pdfjs = (await import('pdfjs-dist/legacy/build/pdf.mjs')) as typeof import('pdfjs-dist');
  const doc = await pdfjs.getDocument({ data: new Uint8Array(data), password, useSystemFonts: false, isEvalSupported: false, verbosity: 0 })
    .promise;
  const parts: string[] = [];
  for (let i = 1; i <= doc.numPages; i++) {
    const content = await (await doc.getPage(i)).getTextContent();
    parts.push(content.items.map((it) => ('str' in it ? it.str : '')).join('\n'));
  }
  await doc.destroy();
  return parts.join('\n');
}

/** The pdf.js error name when the PDF cannot be opened with `password` (undefined when it opens). */
export async function pdfOpenError(data: Uint8Array, password?: string): Promise<string | undefined> {
  try {
    await pdfTextWithPassword(data, password);
    return undefined;
  } catch (e) {
    return (e as Error).name;
  }
}
