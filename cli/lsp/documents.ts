/**
 * The language server's open documents: each one's text, its tree (re-parsed only where an edit
 * touched it), the lock beside it (read on open and save) and the last compilation, which answers
 * diagnostics, hover and completion. server.ts speaks the protocol.
 */
import { fileURLToPath } from 'node:url';
import { compile, type Compilation } from '../../compiler/index.js';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { reparse, type Diagnostic, type Parsed } from '../../grammar/index.js';
import { lockPathOf, readIfExists } from '../io.js';

export interface OpenDocument {
  readonly uri: string;
  /** The file on disk, for file: URIs. */
  readonly path?: string;
  readonly lockUri?: string;
  /** The text as the editor has it (vscode-languageserver-textdocument applies the edits). */
  document: TextDocument;
  parsed?: Parsed;
  lockText?: string;
  /** Why the lock beside it could not be read, when it could not. */
  lockProblem?: Diagnostic;
  compilation?: Compilation;
}

export function pathOf(uri: string): string | undefined {
  try {
    return uri.startsWith('file:') ? fileURLToPath(uri) : undefined;
  } catch {
    return undefined;
  }
}

export function openDocument(document: TextDocument): OpenDocument {
  const uri = document.uri;
  const path = pathOf(uri);
  const doc: OpenDocument = { uri, path, lockUri: path && `${uri}.lock`, document };
  readLockOf(doc);
  return doc;
}

/** Reads the lock beside the document again (on open, on save, when the client says it changed). */
export function readLockOf(doc: OpenDocument): void {
  const lockPath = doc.path && lockPathOf(doc.path);
  const read = lockPath ? readIfExists(lockPath, lockPath, 'lock') : undefined;
  doc.lockText = read?.ok ? read.text : undefined;
  doc.lockProblem = read && !read.ok ? read.diagnostic : undefined;
}

/** Checks the document as `machinec check` does (source and lock, no QEMU), re-parsing only what changed. */
export function checkDocument(doc: OpenDocument): Compilation {
  const file = doc.path ?? doc.uri;
  const text = doc.document.getText();
  const result = reparse(doc.parsed, text, file);
  doc.parsed = { text, result };
  const lock = doc.lockText === undefined || !doc.path ? undefined : { file: lockPathOf(doc.path), text: doc.lockText };
  doc.compilation = compile({ file, source: text, lock, parsed: result, diagnosticsOnly: true });
  return doc.compilation;
}

/** The document's diagnostics split by the file they are in: the source, or its lock. */
export function diagnosticsByFile(doc: OpenDocument): { source: Diagnostic[]; lock: Diagnostic[] } {
  const file = doc.path ?? doc.uri;
  const all = [...(doc.compilation?.diagnostics ?? []), ...(doc.lockProblem ? [doc.lockProblem] : [])];
  return { source: all.filter((d) => d.file === file), lock: all.filter((d) => d.file !== file) };
}
