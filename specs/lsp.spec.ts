/**
 * `machinec lsp` as an editor runs it: the bundled binary started as its own process, spoken to
 * over stdio with vscode-jsonrpc (the protocol layer of vscode-languageclient).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as rpc from 'vscode-jsonrpc/node';
import { BIN, cleanScratch, ensureBin, put, runCli, sample, scratch } from './cli/harness.js';

interface Diag {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  code: string;
  message: string;
  severity: number;
  relatedInformation?: { message: string }[];
  data?: unknown;
}

class Client {
  readonly diagnostics = new Map<string, Diag[][]>();
  private waiters: (() => void)[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcessWithoutNullStreams, readonly connection: rpc.MessageConnection) {
    child.stderr.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((done) => child.on('exit', (code) => done(code)));
    connection.onNotification('textDocument/publishDiagnostics', (p: { uri: string; diagnostics: Diag[] }) => {
      this.diagnostics.set(p.uri, [...(this.diagnostics.get(p.uri) ?? []), p.diagnostics]);
      for (const w of this.waiters.splice(0)) w();
    });
    connection.listen();
  }

  static start(cwd: string): Client {
    const child = spawn(process.execPath, [BIN, 'lsp', '--stdio'], { cwd, stdio: 'pipe' });
    const connection = rpc.createMessageConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
    return new Client(child, connection);
  }

  /** The n-th diagnostics published for `uri` (1-based), waiting for it. */
  async published(uri: string, n: number): Promise<Diag[]> {
    const deadline = Date.now() + 15_000;
    while ((this.diagnostics.get(uri)?.length ?? 0) < n) {
      if (Date.now() > deadline) throw new Error(`no diagnostics #${n} for ${uri}; stderr: ${this.stderr}`);
      await new Promise<void>((done) => {
        this.waiters.push(done);
        setTimeout(done, 200);
      });
    }
    return this.diagnostics.get(uri)![n - 1];
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.connection.sendRequest(method, params) as Promise<R>;
  }
  notify(method: string, params: unknown): void {
    void this.connection.sendNotification(method, params);
  }
  open(uri: string, text: string): void {
    this.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'machine', version: 1, text } });
  }
}

const at = (text: string, needle: string, after = 0): { line: number; character: number } => {
  const offset = text.indexOf(needle) + after;
  if (offset < after) throw new Error(`${needle} is not in the text`);
  const before = text.slice(0, offset).split('\n');
  return { line: before.length - 1, character: before[before.length - 1].length };
};

const TWO_ERRORS = `machine m {
  chipset = q35
  device nic0: virtio-net { netdev = user }
  device disk0: virtio-blk-pci { file = "d.qcow2", bootindx = 1 }
}
`;

describe('machinec lsp over stdio', () => {
  let dir: string;
  let client: Client;
  beforeAll(async () => {
    ensureBin();
    dir = scratch({}, 'machinec-lsp-');
    put(dir, 'office.machine', sample('office.machine'));
    put(dir, 'office.machine.lock', sample('office.machine.lock'));
    client = Client.start(dir);
    const init = await client.request<{ capabilities: Record<string, unknown> }>('initialize', { processId: process.pid, rootUri: pathToFileURL(dir).href, capabilities: {} });
    expect(init.capabilities).toMatchObject({ hoverProvider: true, documentFormattingProvider: true, definitionProvider: true, completionProvider: {} });
    client.notify('initialized', {});
  }, 120_000);
  afterAll(() => {
    if (client.child.exitCode === null) client.child.kill();
    cleanScratch();
  });

  it('publishes both errors with their ranges, then one after a fix', async () => {
    const uri = pathToFileURL(join(dir, 'two.machine')).href;
    client.open(uri, TWO_ERRORS);
    const first = await client.published(uri, 1);
    const model = { start: { line: 2, character: 15 }, end: { line: 2, character: 25 } };
    const property = { start: { line: 3, character: 51 }, end: { line: 3, character: 59 } };
    expect([at(TWO_ERRORS, 'virtio-net '), at(TWO_ERRORS, 'bootindx')]).toEqual([model.start, property.start]);
    expect(first.map((d) => [d.code, d.range])).toEqual([['unknown-model', model], ['unknown-property', property]]);
    expect(first[0].relatedInformation?.map((r) => r.message)).toEqual(['hint: did you mean virtio-net-pci?']);
    expect(first[0].severity).toBe(1);

    // The code action for the hint, then the fix as an editor sends it: one incremental change.
    const actions = await client.request<{ title: string; edit: { changes: Record<string, { newText: string }[]> } }[]>('textDocument/codeAction', { textDocument: { uri }, range: first[0].range, context: { diagnostics: [first[0]] } });
    expect(actions.map((a) => [a.title, a.edit.changes[uri][0].newText])).toEqual([['change to virtio-net-pci', 'virtio-net-pci']]);
    client.notify('textDocument/didChange', { textDocument: { uri, version: 2 }, contentChanges: [{ range: first[0].range, text: 'virtio-net-pci' }] });
    const second = await client.published(uri, 2);
    expect(second.map((d) => [d.code, d.range])).toEqual([['unknown-property', property]]);
  });

  it('completes a model name and the properties of an e1000', async () => {
    const uri = pathToFileURL(join(dir, 'complete.machine')).href;
    const text = 'machine c {\n  device x: virtio-n\n  device y: e1000 {\n    \n  }\n}\n';
    client.open(uri, text);
    await client.published(uri, 1);
    const models = await client.request<{ label: string }[]>('textDocument/completion', { textDocument: { uri }, position: at(text, 'virtio-n', 'virtio-n'.length) });
    expect(models.map((c) => c.label)).toContain('virtio-net-pci');
    const props = await client.request<{ label: string; detail?: string }[]>('textDocument/completion', { textDocument: { uri }, position: { line: 3, character: 4 } });
    expect(props.map((c) => c.label)).toEqual(expect.arrayContaining(['bootindex', 'mac', 'netdev']));
    expect(props.find((c) => c.label === 'bootindex')?.detail).toBe('integer 0..1000');
  });

  it('hovers a locked device with its guest address and MAC', async () => {
    const uri = pathToFileURL(join(dir, 'office.machine')).href;
    const text = sample('office.machine');
    client.open(uri, text);
    expect(await client.published(uri, 1)).toEqual([]);
    const hover = await client.request<{ contents: { value: string } }>('textDocument/hover', { textDocument: { uri }, position: at(text, 'nic0', 1) });
    expect(hover.contents.value).toContain('locked at 01:00.0');
    expect(hover.contents.value).toContain('mac 52:54:00:48:be:7b');
  });

  it('goes to a device id and renames it in source and lock as machinec rename does', async () => {
    const uri = pathToFileURL(join(dir, 'office.machine')).href;
    const text = sample('office.machine');
    const nic0 = at(text, 'nic0');
    const range = { start: nic0, end: { line: nic0.line, character: nic0.character + 4 } };
    expect(await client.request('textDocument/definition', { textDocument: { uri }, position: at(text, 'nic0', 2) })).toEqual({ uri, range });
    expect(await client.request('textDocument/prepareRename', { textDocument: { uri }, position: at(text, 'nic0', 2) })).toEqual({ range, placeholder: 'nic0' });
    const edit = await client.request<{ changes: Record<string, { range: unknown; newText: string }[]> }>('textDocument/rename', { textDocument: { uri }, position: at(text, 'nic0', 2), newName: 'lan0' });
    expect(edit.changes[uri]).toEqual([{ range, newText: 'lan0' }]);

    const cliDir = scratch({}, 'machinec-lsp-rename-');
    put(cliDir, 'office.machine', text);
    put(cliDir, 'office.machine.lock', sample('office.machine.lock'));
    expect((await runCli(['rename', 'office.machine', 'nic0', 'lan0'], cliDir)).code).toBe(0);
    const [lockEdit] = edit.changes[`${uri}.lock`];
    expect(lockEdit.newText).toBe(readFileSync(join(cliDir, 'office.machine.lock'), 'utf8'));
    expect(lockEdit.newText).toContain('pci 01:00.0 lan0 virtio-net-pci bus=rp1 addr=00.0 mac=52:54:00:48:be:7b');

    await expect(client.request('textDocument/rename', { textDocument: { uri }, position: at(text, 'nic0', 2), newName: 'disk0' })).rejects.toThrow(/disk0 is already taken/);
  });

  it('formats a messy document to what machinec fmt writes', async () => {
    const messy = 'machine   m{chipset=q35\n\n\n\n  device   nic0 :virtio-net-pci{netdev=user,bootindex=1}   // the NIC\ndevice v: VGA}\n';
    const uri = pathToFileURL(join(dir, 'messy.machine')).href;
    client.open(uri, messy);
    const edits = await client.request<{ newText: string }[]>('textDocument/formatting', { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } });
    const fmtDir = scratch({}, 'machinec-lsp-fmt-');
    put(fmtDir, 'messy.machine', messy);
    expect((await runCli(['fmt', 'messy.machine'], fmtDir)).code).toBe(0);
    expect(edits).toHaveLength(1);
    expect(edits[0].newText).toBe(readFileSync(join(fmtDir, 'messy.machine'), 'utf8'));
  });

  it('shuts down and exits cleanly', async () => {
    expect(await client.request('shutdown', null)).toBeNull();
    client.notify('exit', null);
    expect(await client.exited).toBe(0);
  });
});
