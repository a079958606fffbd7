/**
 * The README and the guide in docs/ stay true: every `.machine` example parses, every relative link
 * reaches a file (and a heading, for `#anchor` links), every page of the guide is linked from the
 * README, the README stays a front door (under 250 lines), and the text speaks of the tool, not of
 * how its work was organised.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '../grammar/index.js';

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
