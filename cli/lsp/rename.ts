/**
 * Rename of a device id from the editor, as `machinec rename` does it (the steps are the
 * compiler's, compiler/rename.ts): the source and the lock together, so the device keeps its
 * address, MAC and serial. The machine must build; the renamed pair must build to the same
 * placement, or nothing is proposed.
 */
import type { TextEdit, WorkspaceEdit } from 'vscode-languageserver/node';
import { compile, deviceIdAt, renameDevice, renameInSource, type SourceEdit } from '../../compiler/index.js';
import { DEVICE_ID_RULE, isDeviceId } from '../../grammar/index.js';
import type { OpenDocument } from './documents.js';

export function renameEdit(doc: OpenDocument, offset: number, to: string): { edit: WorkspaceEdit } | { error: string } {
  const found = doc.parsed && deviceIdAt(doc.parsed.result.ast, offset);
  if (!found || !doc.parsed) return { error: 'not on a device id' };
  if (!isDeviceId(to)) return { error: `${to} is not a valid id: ${DEVICE_ID_RULE}` };
  const source = doc.document.getText();
  const textEdits = (edits: readonly SourceEdit[]): TextEdit[] =>
    edits.map((e) => ({ range: { start: doc.document.positionAt(e.span.start), end: doc.document.positionAt(e.span.end) }, newText: e.text }));
  if (!doc.path || !doc.lockUri) {
    // No file, so no lock: the source alone.
    const inSource = renameInSource(source, doc.parsed.result.ast.machine, found.id, to);
    return inSource ? { edit: { changes: { [doc.uri]: textEdits(inSource.edits) } } } : { error: 'not on a device id' };
  }
  const lockFile = `${doc.path}.lock`;
  // Built in full, as `machinec rename` does: the lock as a build would write it, renamed.
  const built = compile({ file: doc.path, source, lock: doc.lockText === undefined ? undefined : { file: lockFile, text: doc.lockText } });
  const r = renameDevice({ file: doc.path, source, lockFile, built, from: found.id, to });
  if (!r.ok) return { error: r.message };
  const sourceEdits = textEdits(r.edits);
  const lockEnd = doc.lockText === undefined ? { line: 0, character: 0 } : endOf(doc.lockText);
  const lockEdit = { range: { start: { line: 0, character: 0 }, end: lockEnd }, newText: r.lock };
  if (doc.lockText === undefined) {
    return {
      edit: {
        documentChanges: [
          { kind: 'create', uri: doc.lockUri, options: { ignoreIfExists: true } },
          { textDocument: { uri: doc.lockUri, version: null }, edits: [lockEdit] },
          { textDocument: { uri: doc.uri, version: doc.document.version }, edits: sourceEdits },
        ],
      },
    };
  }
  return { edit: { changes: { [doc.uri]: sourceEdits, [doc.lockUri]: [lockEdit] } } };
}

function endOf(text: string): { line: number; character: number } {
  const lines = text.split('\n');
  return { line: lines.length - 1, character: lines[lines.length - 1].length };
}
