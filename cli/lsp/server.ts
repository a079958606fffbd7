/**
 * `machinec lsp [--stdio]`: a Language Server Protocol server on stdin and stdout. The protocol
 * packages (vscode-languageserver, vscode-languageserver-textdocument) and prettier are imported
 * here, when the command runs, never on the build path. What it answers comes from the compiler's
 * editor API (compiler/editor.ts) and `compile`, as `machinec check` does.
 */
import type * as Lsp from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { completionsAt, deviceIdAt, hoverAt, quickFix, type CompletionKind, type Diagnostic, type Span } from '../../compiler/index.js';
import { checkDocument, diagnosticsByFile, openDocument, readLockOf, type OpenDocument } from './documents.js';
import { formatDocument } from './format.js';
import { renameEdit } from './rename.js';
import { boundedReader } from './transport.js';

type Protocol = typeof Lsp;

const KINDS: Record<CompletionKind, Lsp.CompletionItemKind> = { model: 7, property: 10, value: 20, device: 6, keyword: 14 };
const SEVERITY: Record<Diagnostic['severity'], Lsp.DiagnosticSeverity> = { error: 1, warning: 2, note: 3 };

/** The server's parts: the protocol package, its connection and documents, and the documents open in the editor. */
interface Server {
  readonly lsp: Protocol;
  readonly Doc: typeof TextDocument;
  readonly connection: Lsp.Connection;
  readonly documents: Lsp.TextDocuments<TextDocument>;
  readonly open: Map<string, OpenDocument>;
  /** Lock URIs that were given diagnostics, so they are cleared once fixed. */
  readonly lockDiagnosed: Set<string>;
}

/** A span of a document as an LSP range (its start where there is none). */
const range = (d: TextDocument, span: Span | undefined): Lsp.Range => (span ? { start: d.positionAt(span.start), end: d.positionAt(span.end) } : { start: d.positionAt(0), end: d.positionAt(0) });

/** A machinec diagnostic as LSP's: related spans and the hint as related information, its quick fix as data. */
function toLsp(d: Diagnostic, doc: TextDocument, uri: string): Lsp.Diagnostic {
  const here: Lsp.Location = { uri, range: range(doc, d.span) };
  const related = [...(d.related ?? []).map((r) => ({ location: { uri, range: range(doc, r.span) }, message: r.message })), ...(d.hint ? [{ location: here, message: `hint: ${d.hint}` }] : [])];
  const fix = quickFix(d);
  return { range: here.range, severity: SEVERITY[d.severity], code: d.code, source: 'machinec', message: d.message, relatedInformation: related.length ? related : undefined, data: fix && { title: fix.title, newText: fix.newText } };
}

/** Checks a document and publishes its diagnostics, and its lock's (cleared once the lock is fixed). */
function publish(server: Server, doc: OpenDocument): void {
  const { connection, lockDiagnosed } = server;
  checkDocument(doc);
  const { source, lock } = diagnosticsByFile(doc);
  void connection.sendDiagnostics({ uri: doc.uri, version: doc.document.version, diagnostics: source.map((d) => toLsp(d, doc.document, doc.uri)) });
  if (!doc.lockUri || (!lock.length && !lockDiagnosed.has(doc.lockUri))) return;
  const lockDoc = server.Doc.create(doc.lockUri, 'machine-lock', 0, doc.lockText ?? '');
  void connection.sendDiagnostics({ uri: doc.lockUri, diagnostics: lock.map((d) => toLsp(d, lockDoc, doc.lockUri!)) });
  if (lock.length) lockDiagnosed.add(doc.lockUri);
  else lockDiagnosed.delete(doc.lockUri);
}

/** What the server offers, answered to `initialize`. */
function capabilities(lsp: Protocol): Lsp.InitializeResult {
  return {
    capabilities: {
      textDocumentSync: { openClose: true, change: lsp.TextDocumentSyncKind.Incremental, save: { includeText: false } },
      completionProvider: { triggerCharacters: [':', '=', ' ', '{'] },
      hoverProvider: true,
      definitionProvider: true,
      renameProvider: { prepareProvider: true },
      documentFormattingProvider: true,
      codeActionProvider: { codeActionKinds: [lsp.CodeActionKind.QuickFix] },
    },
    serverInfo: { name: 'machinec' },
  };
}

/** Documents opened, changed, saved and closed, and locks changed on disk: each publishes again. */
function followDocuments(server: Server): void {
  const { connection, documents, open } = server;
  // TextDocuments reports an open as a change too: the change publishes.
  documents.onDidChangeContent((e) => {
    let doc = open.get(e.document.uri);
    if (!doc) open.set(e.document.uri, (doc = openDocument(e.document)));
    doc.document = e.document;
    publish(server, doc);
  });
  documents.onDidSave((e) => {
    const doc = open.get(e.document.uri);
    if (!doc) return;
    readLockOf(doc);
    publish(server, doc);
  });
  documents.onDidClose((e) => {
    open.delete(e.document.uri);
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });
  connection.onDidChangeWatchedFiles((e) => {
    for (const doc of open.values()) {
      if (!e.changes.some((c) => c.uri === doc.lockUri)) continue;
      readLockOf(doc);
      publish(server, doc);
    }
  });
}

/** The open document a request points into, and the offset it points at. */
function at(server: Server, p: Lsp.TextDocumentPositionParams): { doc: OpenDocument; offset: number } | undefined {
  const doc = server.open.get(p.textDocument.uri);
  return doc && { doc, offset: doc.document.offsetAt(p.position) };
}

/** What the editor API reads besides the text: the locked and placed machine, the syntax tree. */
const context = (doc: OpenDocument) => ({ locked: doc.compilation?.previous, placed: doc.compilation?.machine, ast: doc.parsed?.result.ast });

/** Completion and hover, from the compiler's editor API. */
function answerCompletionAndHover(server: Server): void {
  const { connection } = server;
  connection.onCompletion((p) => {
    const here = at(server, p);
    if (!here) return [];
    const { span, items } = completionsAt(here.doc.document.getText(), here.offset, context(here.doc));
    const replace = range(here.doc.document, span);
    return items.map((c, i) => ({
      label: c.label,
      kind: KINDS[c.kind],
      detail: c.detail,
      documentation: c.documentation ? { kind: 'markdown' as const, value: c.documentation } : undefined,
      sortText: String(i).padStart(4, '0'),
      textEdit: { range: replace, newText: c.label },
    }));
  });

  connection.onHover((p) => {
    const here = at(server, p);
    const h = here && hoverAt(here.doc.document.getText(), here.offset, context(here.doc));
    return h ? { contents: { kind: 'markdown', value: h.text }, range: range(here!.doc.document, h.span) } : null;
  });
}

/** Go to a device's definition, and rename a device everywhere. */
function answerDefinitionAndRename(server: Server): void {
  const { connection, lsp } = server;
  connection.onDefinition((p) => {
    const here = at(server, p);
    const found = here?.doc.parsed && deviceIdAt(here.doc.parsed.result.ast, here.offset);
    return found ? { uri: here!.doc.uri, range: range(here!.doc.document, found.span) } : null;
  });

  connection.onPrepareRename((p) => {
    const here = at(server, p);
    const found = here?.doc.parsed && deviceIdAt(here.doc.parsed.result.ast, here.offset);
    return found ? { range: range(here!.doc.document, found.span), placeholder: found.id } : null;
  });

  connection.onRenameRequest((p) => {
    const here = at(server, p);
    if (!here) return null;
    const r = renameEdit(here.doc, here.offset, p.newName);
    if ('error' in r) throw new lsp.ResponseError(lsp.ErrorCodes.InvalidRequest, r.error);
    return r.edit;
  });
}

/** Formatting (as `machinec fmt`) and the quick fixes the diagnostics carry. */
function answerEdits(server: Server): void {
  const { connection, lsp, open } = server;
  connection.onDocumentFormatting(async (p) => {
    const doc = open.get(p.textDocument.uri);
    if (!doc) return [];
    const formatted = await formatDocument(doc);
    const text = doc.document.getText();
    return formatted === undefined || formatted === text ? [] : [{ range: { start: doc.document.positionAt(0), end: doc.document.positionAt(text.length) }, newText: formatted }];
  });

  connection.onCodeAction((p) => {
    const actions: Lsp.CodeAction[] = [];
    for (const d of p.context.diagnostics) {
      const fix = d.data as { title: string; newText: string } | undefined;
      if (!fix || d.source !== 'machinec') continue;
      actions.push({ title: fix.title, kind: lsp.CodeActionKind.QuickFix, diagnostics: [d], isPreferred: true, edit: { changes: { [p.textDocument.uri]: [{ range: d.range, newText: fix.newText }] } } });
    }
    return actions;
  });
}

/**
 * Serves LSP on stdin and stdout until the client says exit or the input ends (cli/lsp/transport.ts
 * frames the input and keeps the lifecycle; the protocol package exits on `exit`, 0 after `shutdown`).
 */
export async function lspCommand(): Promise<number> {
  const lsp: Protocol = await import('vscode-languageserver/node');
  const { TextDocument: Doc } = await import('vscode-languageserver-textdocument');
  const writer = new lsp.StreamMessageWriter(process.stdout);
  // As the protocol package does on `exit`: the process ends, and its timers and pipes with it.
  const finish = (status: number) => process.exit(status);
  const reader = boundedReader(lsp, { input: process.stdin, writer, log: (line) => process.stderr.write(`${line}\n`), finish });
  const connection = lsp.createConnection(lsp.ProposedFeatures.all, reader, writer);
  const server: Server = { lsp, Doc, connection, documents: new lsp.TextDocuments(Doc), open: new Map(), lockDiagnosed: new Set() };
  connection.onInitialize(() => capabilities(lsp));
  followDocuments(server);
  answerCompletionAndHover(server);
  answerDefinitionAndRename(server);
  answerEdits(server);

  server.documents.listen(connection);
  connection.listen();
  return new Promise<number>(() => undefined); // the server ends only by process.exit, above or in the protocol package
}
