/**
 * Rename of a device id from the editor, as `machinec rename` does it: the source and the lock
 * together, so the device keeps its address, MAC and serial. The machine must build; the renamed
 * pair must build to the same placement, or nothing is proposed.
 */
import type { WorkspaceEdit } from 'vscode-languageserver/node';
import { compile, deviceIdAt, renameInLock } from '../../compiler/index.js';
import { walkDevices } from '../../grammar/index.js';
import type { OpenDocument } from './documents.js';

const QEMU_ID = /^[A-Za-z][A-Za-z0-9_.-]*$/;

export function renameEdit(doc: OpenDocument, offset: number, to: string): { edit: WorkspaceEdit } | { error: string } {
  const found = doc.parsed && deviceIdAt(doc.parsed.result.ast, offset);
  if (!found || !doc.parsed) return { error: 'not on a device id' };
  if (!QEMU_ID.test(to)) return { error: `${to} is not a valid id: an id starts with a letter and holds only letters, digits, "-", "." and "_"` };
  const source = doc.document.getText();
  const newSource = source.slice(0, found.span.start) + to + source.slice(found.span.end);
  const range = { start: doc.document.positionAt(found.span.start), end: doc.document.positionAt(found.span.end) };
  const sourceEdit = { [doc.uri]: [{ range, newText: to }] };
  if (!doc.path || !doc.lockUri) return { edit: { changes: sourceEdit } };
  const lockFile = `${doc.path}.lock`;
  // Built in full, as `machinec rename` does: the lock as a build would write it, renamed.
  const c = compile({ file: doc.path, source, lock: doc.lockText === undefined ? undefined : { file: lockFile, text: doc.lockText } });
  if (!c.ok || !c.lockText) return { error: 'the machine does not build: fix its errors first, so the lock can be renamed with it' };
  if ([...walkDevices(doc.parsed.result.ast.machine?.devices ?? [])].some((d) => d.id?.name === to) || c.machine!.devices.some((d) => d.id === to)) return { error: `${to} is already taken in the source or its lock` };
  const renamed = renameInLock(c.lockText, lockFile, found.id, to);
  if (!renamed.text) return { error: renamed.diagnostics.map((d) => d.message).join('; ') };
  const check = compile({ file: doc.path, source: newSource, lock: { file: lockFile, text: renamed.text } });
  if (!check.ok || check.lockText !== renamed.text) return { error: 'the renamed machine does not build to the same placement; nothing changed' };
  const lockEnd = doc.lockText === undefined ? { line: 0, character: 0 } : endOf(doc.lockText);
  const lockEdit = { range: { start: { line: 0, character: 0 }, end: lockEnd }, newText: renamed.text };
  if (doc.lockText === undefined) return { edit: { documentChanges: [{ kind: 'create', uri: doc.lockUri, options: { ignoreIfExists: true } }, { textDocument: { uri: doc.lockUri, version: null }, edits: [lockEdit] }, { textDocument: { uri: doc.uri, version: doc.document.version }, edits: sourceEdit[doc.uri] }] } };
  return { edit: { changes: { ...sourceEdit, [doc.lockUri]: [lockEdit] } } };
}

function endOf(text: string): { line: number; character: number } {
  const lines = text.split('\n');
  return { line: lines.length - 1, character: lines[lines.length - 1].length };
}
