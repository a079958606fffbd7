/**
 * `machinec lsp` survives its client: the real server process (dist/machinec.mjs) is fed raw bytes
 * on stdin, its answers are read with vscode-jsonrpc's own reader (the protocol layer editors use),
 * and each case ends with the process exiting within a few seconds, or answering. Its memory is
 * read from /proc/<pid>/status while it is fed a frame that names 2,000,000,000 bytes.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as rpc from 'vscode-jsonrpc/node';
import { freshBin } from './support/bin.js';

interface Answer {
  id?: number | string | null;
  result?: unknown;
  error?: { code: number; message: string };
}

class Server {
  readonly answers: Answer[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private waiters: (() => void)[] = [];

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.on('data', (d) => (this.stderr += d));
    child.stdin.on('error', () => undefined); // writing after the server exited: EPIPE, expected in some cases
    this.exited = new Promise((done) => child.on('exit', (code) => done(code)));
    new rpc.StreamMessageReader(child.stdout).listen((m) => {
      this.answers.push(m as Answer);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static start(): Server {
    return new Server(spawn(process.execPath, [freshBin(), 'lsp', '--stdio'], { stdio: 'pipe' }));
  }

  write(bytes: string | Buffer): void {
    this.child.stdin.write(bytes);
  }
  send(message: object): void {
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...message }));
    this.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
  }

  /** The answer to request `id`, waiting up to 10 s for it. */
  async answer(id: number | string | null): Promise<Answer> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = this.answers.find((a) => a.id === id && ('result' in a || 'error' in a));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no answer to ${id}; stderr: ${this.stderr}`);
      await new Promise<void>((done) => {
        this.waiters.push(done);
        setTimeout(done, 100);
      });
    }
  }

  /** The exit status, or 'still running' after `ms`. */
  exit(ms = 5_000): Promise<number | null | 'still running'> {
    return Promise.race([this.exited, new Promise<'still running'>((done) => setTimeout(() => done('still running'), ms).unref())]);
  }

  /** VmRSS of the server in KiB, or undefined once it has exited. */
  rssKiB(): number | undefined {
    try {
      const kib = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'))?.[1];
      return kib === undefined ? undefined : Number(kib); // a process that has exited has no VmRSS line
    } catch {
      return undefined;
    }
  }
}

const INITIALIZE = { id: 1, method: 'initialize', params: { processId: null, rootUri: null, capabilities: {} } };

let servers: Server[] = [];
const start = (): Server => {
  const s = Server.start();
  servers.push(s);
  return s;
};
beforeAll(() => void freshBin());
afterEach(() => {
  for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  servers = [];
});

describe('machinec lsp: end of input', () => {
  test('a truncated frame, then EOF: exits 1 and says why', async () => {
    const s = start();
    s.write('Content-Length: 100\r\n\r\n{"jsonrpc":"2.0","id":1,');
    s.child.stdin.end();
    expect(await s.exit()).toBe(1);
    expect(s.stderr).toMatch(/input ended after \d+ of the 100 bytes of a frame/);
  });

  test('EOF after initialize, without shutdown: exits 1', async () => {
    const s = start();
    s.send(INITIALIZE);
    expect((await s.answer(1)).result).toMatchObject({ serverInfo: { name: 'machinec' } });
    s.child.stdin.end();
    expect(await s.exit()).toBe(1);
  });

  test('shutdown, then EOF: exits 0; shutdown and exit: exits 0', async () => {
    const a = start();
    a.send(INITIALIZE);
    a.send({ id: 2, method: 'shutdown', params: null });
    expect((await a.answer(2)).result).toBeNull();
    a.child.stdin.end();
    expect(await a.exit()).toBe(0);

    const b = start();
    b.send(INITIALIZE);
    b.send({ id: 2, method: 'shutdown', params: null });
    await b.answer(2);
    b.send({ method: 'exit' });
    expect(await b.exit()).toBe(0);
  });

  test('exit without shutdown: exits 1', async () => {
    const s = start();
    s.send(INITIALIZE);
    await s.answer(1);
    s.send({ method: 'exit' });
    expect(await s.exit()).toBe(1);
  });
});

describe('machinec lsp: framing', () => {
  test('a frame written a few bytes at a time, and two frames in one write, are each answered', async () => {
    const s = start();
    const body = JSON.stringify({ jsonrpc: '2.0', ...INITIALIZE });
    const bytes = Buffer.from(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    for (let i = 0; i < bytes.length; i += 7) {
      s.write(bytes.subarray(i, i + 7));
      await new Promise((done) => setTimeout(done, 2));
    }
    expect((await s.answer(1)).result).toMatchObject({ serverInfo: { name: 'machinec' } });
    const frame = (m: object) => {
      const b = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...m }));
      return Buffer.concat([Buffer.from(`Content-Length: ${b.length}\r\n\r\n`), b]);
    };
    s.write(Buffer.concat([frame({ id: 2, method: 'textDocument/hover', params: { textDocument: { uri: 'file:///nowhere.machine' }, position: { line: 0, character: 0 } } }), frame({ id: 3, method: 'shutdown', params: null })]));
    expect((await s.answer(2)).result).toBeNull();
    expect((await s.answer(3)).result).toBeNull();
    s.send({ method: 'exit' });
    expect(await s.exit()).toBe(0);
  });
});

describe('machinec lsp: malformed frames get an error, and the server exits 1', () => {
  test.each([
    ['no Content-Length', 'Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}', /no Content-Length header/],
    ['a negative Content-Length', 'Content-Length: -5\r\n\r\n{}', /Content-Length "-5" is not a number of bytes/],
    ['a Content-Length that is not a number', 'Content-Length: twelve\r\n\r\n{}', /Content-Length "twelve" is not a number/],
    ['a header line without a name', 'hello\r\n\r\n', /a header line without a name/],
  ])('%s', async (_, bytes, why) => {
    const s = start();
    s.send(INITIALIZE);
    await s.answer(1);
    s.write(bytes);
    s.send({ id: 2, method: 'shutdown', params: null });
    const error = await s.answer(null);
    expect(error.error).toMatchObject({ code: -32700, message: expect.stringMatching(why) });
    expect(await s.exit()).toBe(1);
    expect(s.stderr).toMatch(why);
  });

  test('headers that never end: at most 8 KiB are read', async () => {
    const s = start();
    s.write(`X-Filler: ${'x'.repeat(20_000)}`);
    expect((await s.answer(null)).error?.message).toMatch(/headers are longer than 8192 bytes/);
    expect(await s.exit()).toBe(1);
  });

  test('Content-Length: 2000000000 and 400 MiB behind it: refused at the header, memory stays bounded', async () => {
    const s = start();
    s.send(INITIALIZE);
    await s.answer(1);
    const before = s.rssKiB()!;
    s.write('Content-Length: 2000000000\r\n\r\n');
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    let peak = before;
    for (let i = 0; i < 400 && s.child.exitCode === null; i++) {
      if (!s.child.stdin.write(chunk)) await new Promise((done) => { s.child.stdin.once('drain', done); setTimeout(done, 50); });
      peak = Math.max(peak, s.rssKiB() ?? 0);
    }
    expect(await s.exit()).toBe(1);
    expect((await s.answer(null)).error?.message).toMatch(/Content-Length 2000000000 is more than the 16777216 bytes \(16 MiB\)/);
    expect(peak - before).toBeLessThan(64 * 1024);
  }, 60_000);

  test('a whole 16 MiB frame is read; a body that is not JSON is answered and the server goes on', async () => {
    const s = start();
    s.send(INITIALIZE);
    await s.answer(1);
    const before = s.rssKiB()!;
    s.write(Buffer.concat([Buffer.from('Content-Length: 16777216\r\n\r\n'), Buffer.alloc(16 * 1024 * 1024, 0x7b)]));
    expect((await s.answer(null)).error).toMatchObject({ code: -32700, message: expect.stringMatching(/not JSON/) });
    expect(s.rssKiB()! - before).toBeLessThan(160 * 1024);
    s.send({ id: 2, method: 'shutdown', params: null });
    expect((await s.answer(2)).result).toBeNull();
    s.send({ method: 'exit' });
    expect(await s.exit()).toBe(0);
  }, 30_000);
});

describe('machinec lsp: before initialize', () => {
  test('a request gets ServerNotInitialized (-32002), a notification is dropped, then initialize works', async () => {
    const s = start();
    s.send({ id: 'early', method: 'textDocument/hover', params: { textDocument: { uri: 'file:///x.machine' }, position: { line: 0, character: 0 } } });
    s.send({ method: 'textDocument/didOpen', params: { textDocument: { uri: 'file:///x.machine', languageId: 'machine', version: 1, text: 'machine x {' } } });
    s.send({ id: 'down', method: 'shutdown', params: null });
    expect((await s.answer('early')).error).toMatchObject({ code: -32002 });
    expect((await s.answer('down')).error).toMatchObject({ code: -32002 });
    s.send(INITIALIZE);
    expect((await s.answer(1)).result).toMatchObject({ capabilities: { hoverProvider: true } });
    expect(s.answers.some((a) => (a as { method?: string }).method === 'textDocument/publishDiagnostics')).toBe(false);
    s.send({ id: 2, method: 'shutdown', params: null });
    await s.answer(2);
    s.send({ method: 'exit' });
    expect(await s.exit()).toBe(0);
  });

  test('a second initialize, and a request after shutdown, get InvalidRequest (-32600)', async () => {
    const s = start();
    s.send(INITIALIZE);
    await s.answer(1);
    s.send({ ...INITIALIZE, id: 2 });
    expect((await s.answer(2)).error).toMatchObject({ code: -32600, message: 'the server is initialized already' });
    s.send({ id: 3, method: 'shutdown', params: null });
    expect((await s.answer(3)).result).toBeNull();
    s.send({ id: 4, method: 'textDocument/hover', params: { textDocument: { uri: 'file:///x.machine' }, position: { line: 0, character: 0 } } });
    expect((await s.answer(4)).error).toMatchObject({ code: -32600 });
    s.send({ method: 'exit' });
    expect(await s.exit()).toBe(0);
  });

  test('exit before initialize ends it with 1', async () => {
    const s = start();
    s.send({ method: 'exit' });
    expect(await s.exit()).toBe(1);
  });
});
