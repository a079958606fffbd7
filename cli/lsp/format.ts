/** Formatting for the language server: the prettier plugin with the file's prettier config, as `machinec fmt` does. */
import type { OpenDocument } from './documents.js';

/** The formatted text, or undefined when the document does not parse (fmt leaves such files alone too). */
export async function formatDocument(doc: OpenDocument): Promise<string | undefined> {
  const text = doc.document.getText();
  if (doc.parsed?.text !== text || doc.parsed.result.diagnostics.some((d) => d.severity === 'error')) return undefined;
  // Loaded on the first format request only.
  const [prettier, { default: plugin }] = await Promise.all([import('prettier'), import('../../prettier-plugin/index.js')]);
  const config = doc.path ? ((await prettier.resolveConfig(doc.path, { editorconfig: true })) ?? {}) : {};
  return prettier.format(text, { ...config, plugins: [plugin], parser: 'machine', filepath: doc.path });
}
