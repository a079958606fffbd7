/**
 * The README and the guide in docs/ stay true: every `.machine` example parses, every relative link
 * reaches a file (and a heading, for `#anchor` links), every page of the guide is linked from the
 * README, the README stays a front door (under 250 lines), the text speaks of the tool, not of
 * how its work was organised, and every `machinec` command of a shell block that needs no VM runs
 * on a copy of the docs and samples and exits as the docs say (0, or 1 where a comment says "exits 1").
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '../grammar/index.js';
import { runCli } from './support/cli.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const text = new Map(pages.map((p) => [p, readFileSync(join(root, p), 'utf8')]));

/** Fenced blocks, with the line they start on. */
function blocks(markdown: string): { line: number; info: string; body: string }[] {
  const out: { line: number; info: string; body: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const indent = lines[i].indexOf('`');
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) body.push(lines[i].slice(indent));
    out.push({ line: start + 1, info: open[1], body: body.join('\n') });
  }
  return out;
}

/** A block is a whole `.machine` file when, past comments, it opens with `machine NAME {`. */
const isMachine = (body: string): boolean => /^(\s*(\/\/[^\n]*|\/\*[\s\S]*?\*\/))*\s*machine\s+[\w-]+\s*\{/.test(body);

const examples = [...text].flatMap(([page, md]) =>
  blocks(md).filter((b) => (b.info === '' || b.info === 'machine') && isMachine(b.body)).map((b) => ({ where: `${page}:${b.line}`, body: b.body })),
);

test('the docs hold machine examples', () => {
  expect(examples.length).toBeGreaterThan(3);
});

test.each(examples.map((e) => [e.where, e.body]))('%s parses', (where, body) => {
  const result = parse(body, `${where}.machine`);
  expect(result.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code}: ${d.message}`)).toEqual([]);
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
const anchor = (heading: string): string => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
const anchors = (md: string): Set<string> => new Set([...md.matchAll(/^#+ (.*)$/gm)].map((m) => anchor(m[1])));

test('every relative link reaches a file and, with #anchor, a heading in it', () => {
  const broken: string[] = [];
  for (const [page, md] of text) {
    for (const m of md.matchAll(/\]\(([^)\s]+)\)/g)) {
      const href = m[1];
      if (/^[a-z]+:/.test(href)) continue;
      const [file, hash] = href.split('#');
      const target = file ? join(dirname(page), file) : page;
      if (!existsSync(join(root, target))) broken.push(`${page}: ${href}`);
      else if (hash && target.endsWith('.md') && !anchors(readFileSync(join(root, target), 'utf8')).has(hash)) broken.push(`${page}: ${href} (no such heading)`);
    }
  }
  expect(broken).toEqual([]);
});

test('the README is a front door: under 250 lines, and every guide page is linked from it', () => {
  const readme = text.get('README.md')!;
  expect(readme.split('\n').length).toBeLessThan(250);
  const linked = new Set([...readme.matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => m[1]));
  const unlinked = pages.filter((p) => p.startsWith('docs/') && !linked.has(p) && p !== 'docs/bench-results.md');
  expect(unlinked).toEqual([]);
});

test('the text speaks of the tool, not of how its work was organised', () => {
  const found: string[] = [];
  for (const [page, md] of text) {
    md.split('\n').forEach((line, i) => {
      if (/\bissue \d+|\b(this|last|next|third|fourth|second) round\b|\bhelpers? (of|for) this\b|\bcoordinator\b/i.test(line)) found.push(`${page}:${i + 1}: ${line.trim()}`);
    });
  }
  expect(found).toEqual([]);
});

/** Commands that start a VM or talk to one: not run here (their end-to-end specs start the real QEMU). */
const NEEDS_VM = new Set(['run', 'verify', 'import', 'lsp', 'status']);

/** A shell line split into words, with '…' and "…" quoting (enough for the docs' commands). */
const words = (line: string): string[] => [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);

/** Every `machinec …` command of a fenced sh/shell/bash/console block: continuations joined, `$ `, redirections and `# comments` dropped, `&&` chains split. */
const commands = [...text].flatMap(([page, md]) =>
  blocks(md)
    .filter((b) => ['sh', 'shell', 'bash', 'console'].includes(b.info))
    .flatMap((b) => b.body.replace(/\\\n\s*/g, ' ').split('\n').map((line, i) => ({ where: `${page}:${b.line + 1 + i}`, line })))
    .flatMap(({ where, line }) => {
      const [shell, comment = ''] = line.replace(/^\s*\$ /, '').split(/\s#\s/);
      const expected = /\bexits 1\b/.test(comment) ? 1 : 0;
      // redirections (`> windows11.svg`) are the shell's, not the command's
      return shell.split('&&').map((s) => s.replace(/\s+\d?>>?\s*\S+/g, '').trim()).filter((s) => /^machinec(\s|$)/.test(s)).map((cmd) => ({ where, cmd, expected }));
    }),
);

test('the docs show machinec commands in shell blocks', () => {
  expect(commands.length).toBeGreaterThan(2);
});

const runnable = commands.filter((c) => !NEEDS_VM.has(words(c.cmd)[1]));

/** A copy of the repository's docs and samples, with each `Write \`NAME.machine\`:` example of the docs written out. */
function docsCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'machinec-docs-'));
  for (const f of ['README.md', 'docs', 'samples', 'examples']) cpSync(join(root, f), join(dir, f), { recursive: true });
  for (const md of text.values()) {
    for (const m of md.matchAll(/Write `([\w.-]+\.machine)`:\s*\n\s*```(?:machine)?\n([\s\S]*?)\n```/g)) writeFileSync(join(dir, m[1]), m[2] + '\n');
  }
  return dir;
}

test.each(runnable.map((c) => [c.where, c.cmd, c.expected] as const))('%s: `%s` exits %d', async (_where, cmd, expected) => {
  const dir = docsCopy();
  try {
    const r = await runCli(words(cmd).slice(1), dir);
    // what it printed is shown when the exit is not the documented one
    expect(`exit ${r.code}\n${r.code === expected ? '' : r.stderr}`).toBe(`exit ${expected}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
