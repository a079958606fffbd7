/**
 * `machinec fmt` (runFmt) on a scratch folder, and the plugin used from prettier's own CLI the
 * way a project would (`prettier --plugin=machinec/prettier --check`), against the built dist.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as prettier from 'prettier';
import { runFmt } from '../../cli/commands/fmt.js';
import plugin from '../../prettier-plugin/index.js';
import { freshBin } from '../support/bin.js';

const repo = process.cwd();
const format = (text: string, options: prettier.Options = {}): Promise<string> =>
  prettier.format(text, { ...options, parser: 'machine', plugins: [plugin] });

const UNFORMATTED = 'machine a {\n    memory  = 1G\n  device nic0: e1000 { netdev = user }\n}\n';
const FORMATTED = 'machine b {\n  memory = 1G\n  device nic0: e1000 { netdev = user }\n}\n';
const BROKEN = 'machine bad {\n  memory 1G\n}\n';

function scratch(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'machinec-fmt-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

async function fmt(cwd: string, check: boolean, paths: string[] = []): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runFmt({ check, paths, cwd, stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

const read = (dir: string, name: string): string => readFileSync(join(dir, name), 'utf8');

describe('machinec fmt', () => {
  const dirs: string[] = [];
  const make = (files: Record<string, string>): string => {
    const dir = scratch(files);
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  const tree = {
    'a.machine': UNFORMATTED,
    'b.machine': FORMATTED,
    'sub/c.machine': UNFORMATTED.replace('machine a', 'machine c'),
    'node_modules/pkg/x.machine': UNFORMATTED,
    '.hidden/y.machine': UNFORMATTED,
    'notes.txt': UNFORMATTED,
  };

  it('--check lists the files that are not formatted and changes nothing', async () => {
    const dir = make(tree);
    const r = await fmt(dir, true);
    expect(r.code).toBe(1);
    expect(r.out).toBe(`a.machine\n${join('sub', 'c.machine')}\n`);
    expect(r.err).toMatch(/2 files are not formatted/);
    expect(read(dir, 'a.machine')).toBe(UNFORMATTED);
  });

  it('rewrites only the files that change, skipping node_modules and dot-folders', async () => {
    const dir = make(tree);
    const before = statSync(join(dir, 'b.machine')).mtimeMs;
    const r = await fmt(dir, false);
    expect(r).toEqual({ code: 0, out: `a.machine\n${join('sub', 'c.machine')}\n`, err: '' });
    expect(read(dir, 'a.machine')).toBe(await format(UNFORMATTED));
    expect(read(dir, 'sub/c.machine')).toBe(await format(UNFORMATTED.replace('machine a', 'machine c')));
    expect(statSync(join(dir, 'b.machine')).mtimeMs).toBe(before);
    expect(read(dir, 'node_modules/pkg/x.machine')).toBe(UNFORMATTED);
    expect(read(dir, '.hidden/y.machine')).toBe(UNFORMATTED);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(await fmt(dir, true)).toEqual({ code: 0, out: '', err: '' });
  });

  it('takes explicit files and folders', async () => {
    const dir = make(tree);
    const r = await fmt(dir, false, ['sub', '.hidden/y.machine']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${join('.hidden', 'y.machine')}\n${join('sub', 'c.machine')}\n`);
    expect(read(dir, 'a.machine')).toBe(UNFORMATTED);
  });

  it('never touches a file that does not parse, and reports it', async () => {
    const dir = make({ 'a.machine': UNFORMATTED, 'bad.machine': BROKEN });
    const r = await fmt(dir, false);
    expect(r.code).toBe(1);
    expect(r.err).toContain('error[syntax-error]');
    expect(r.err).toContain('bad.machine:2:10');
    expect(read(dir, 'bad.machine')).toBe(BROKEN);
    expect(read(dir, 'a.machine')).toBe(await format(UNFORMATTED));
    expect((await fmt(dir, true)).code).toBe(1);
  });

  it('reports a missing path', async () => {
    const dir = make({});
    const r = await fmt(dir, true, ['nope.machine']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nope\.machine: no such file/);
  });

  it('honours .prettierrc and .prettierignore', async () => {
    const dir = make({ '.prettierrc': '{ "tabWidth": 4 }\n', '.prettierignore': 'ignored.machine\n', 'a.machine': UNFORMATTED, 'ignored.machine': UNFORMATTED });
    expect((await fmt(dir, false)).code).toBe(0);
    expect(read(dir, 'a.machine')).toBe(await format(UNFORMATTED, { tabWidth: 4 }));
    expect(read(dir, 'a.machine')).toContain('\n    memory = 1G\n');
    expect(read(dir, 'ignored.machine')).toBe(UNFORMATTED);
  });

  it('turns CRLF into LF', async () => {
    const dir = make({ 'w.machine': FORMATTED.replace(/\n/g, '\r\n') });
    expect((await fmt(dir, true)).out).toBe('w.machine\n');
    await fmt(dir, false);
    expect(read(dir, 'w.machine')).toBe(FORMATTED);
  });

  it('loads prettier only when it runs', () => {
    const source = readFileSync(join(repo, 'cli', 'commands', 'fmt.ts'), 'utf8');
    expect(source).not.toMatch(/^import[^;]*from '(prettier|[./]*prettier-plugin)[^']*';/m);
    expect(source).toContain("import('prettier')");
  });
});

describe('prettier CLI with the built plugin', () => {
  const pluginJs = join(repo, 'dist', 'prettier-plugin', 'index.js');
  const prettierBin = join(repo, 'node_modules', 'prettier', 'bin', 'prettier.cjs');
  const cli = (...args: string[]) => spawnSync(process.execPath, [prettierBin, `--plugin=${pluginJs}`, ...args], { cwd: repo, encoding: 'utf8' });

  beforeAll(() => {
    freshBin(); // npm test builds dist/, the plugin included; a spec never builds into it
    expect(existsSync(pluginJs)).toBe(true);
  });

  it('prettier --check samples passes, and agrees with the API', async () => {
    const samples = readdirSync(join(repo, 'samples')).filter((f) => f.endsWith('.machine')).sort();
    const unformatted: string[] = [];
    for (const s of samples) {
      const text = readFileSync(join(repo, 'samples', s), 'utf8');
      if ((await format(text)) !== text) unformatted.push(`samples/${s}`);
    }
    expect(unformatted).toEqual([]);
    const r = cli('--check', 'samples');
    expect(r.stdout + r.stderr).toContain('All matched files use Prettier code style!');
    expect(r.status).toBe(0);
  });

  it('--check passes on the golden outputs', () => {
    const cases = readdirSync(join(repo, 'specs', 'format')).filter((d) => existsSync(join(repo, 'specs', 'format', d, 'output.machine')) && !existsSync(join(repo, 'specs', 'format', d, 'options.json')));
    const r = cli('--check', ...cases.map((d) => `specs/format/${d}/output.machine`));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('reports a syntax error with its position and leaves the file alone', () => {
    const dir = scratch({ 'bad.machine': BROKEN });
    try {
      const r = cli('--write', join(dir, 'bad.machine'));
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/SyntaxError: expected '=', found '1G'.*\(2:10\)/);
      expect(read(dir, 'bad.machine')).toBe(BROKEN);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
