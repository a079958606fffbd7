/**
 * `machinec lsp --stdio` as an editor runs it: the bundled binary in its own process, spoken to
 * with vscode-jsonrpc (the protocol layer of vscode-languageclient), as specs/lsp.spec.ts does.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import * as rpc from 'vscode-jsonrpc/node';
import { BIN } from '../cli/harness.js';

export interface Position {
  readonly line: number;
  readonly character: number;
}
export interface TextEdit {
  readonly range: { readonly start: Position; readonly end: Position };
  readonly newText: string;
}

export class LspClient {
  private readonly published = new Set<string>();
  private waiters: (() => void)[] = [];
  stderr = '';

  private constructor(readonly child: ChildProcessWithoutNullStreams, readonly connection: rpc.MessageConnection) {
    child.stderr.on('data', (d) => (this.stderr += d));
    connection.onNotification('textDocument/publishDiagnostics', (p: { uri: string }) => {
      this.published.add(p.uri);
      for (const w of this.waiters.splice(0)) w();
    });
    connection.listen();
  }

  static async start(root: string): Promise<LspClient> {
    const child = spawn(process.execPath, [BIN, 'lsp', '--stdio'], { cwd: root, stdio: 'pipe' });
    const client = new LspClient(child, rpc.createMessageConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin)));
    await client.request('initialize', { processId: process.pid, rootUri: pathToFileURL(root).href, capabilities: {} });
    void client.connection.sendNotification('initialized', {});
    return client;
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.connection.sendRequest(method, params) as Promise<R>;
  }

  /** Opens a document and waits until the server has compiled it (its first diagnostics). */
  async open(uri: string, text: string): Promise<void> {
    void this.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'machine', version: 1, text } });
    const deadline = Date.now() + 15_000;
    while (!this.published.has(uri)) {
      if (Date.now() > deadline) throw new Error(`no diagnostics for ${uri}; stderr: ${this.stderr}`);
      await new Promise<void>((done) => {
        this.waiters.push(done);
        setTimeout(done, 200);
      });
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((done) => this.child.on('exit', done));
    await this.request('shutdown', null);
    void this.connection.sendNotification('exit');
    await exited;
    this.connection.dispose();
  }
}

/** The offset of a protocol position in `text` (UTF-16 code units, as the protocol counts). */
function offsetOf(text: string, p: Position): number {
  let offset = 0;
  for (let line = 0; line < p.line; line++) offset = text.indexOf('\n', offset) + 1;
  return offset + p.character;
}

/** `text` with an editor's edits applied, as an editor applies a WorkspaceEdit's edits to one document. */
export function applyTextEdits(text: string, edits: readonly TextEdit[]): string {
  const spans = edits.map((e) => ({ start: offsetOf(text, e.range.start), end: offsetOf(text, e.range.end), text: e.newText }));
  let out = text;
  for (const e of spans.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/** The protocol position of the first `needle` in `text`, `after` characters in. */
export function positionOf(text: string, needle: string, after = 0): Position {
  const offset = text.indexOf(needle);
  if (offset < 0) throw new Error(`${needle} is not in the text`);
  const before = text.slice(0, offset + after).split('\n');
  return { line: before.length - 1, character: before[before.length - 1].length };
}
