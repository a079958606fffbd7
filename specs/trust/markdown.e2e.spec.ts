/**
 * The pull-request comment shows every change, whatever the strings in the source hold. For
 * generated machines with hostile strings in every string field (SMBIOS, tap script, disk image
 * and serial, 9p share and tag, chardev file, port name, option ROM), `renderPlanMarkdown` is rendered as GitHub does
 * (remark with GFM, raw HTML allowed, then rehype-sanitize's default schema, which follows GitHub's
 * sanitiser) and the page is loaded in headless Chromium, which reports for each comment:
 * - every change line of the plan (each machine line, device id, guest notice, option value and
 *   host effect, as the model says it) is in a block whose `innerText` holds it and whose box has
 *   a size (nothing collapsed in a `<details>`, nothing hidden);
 * - no element the comment's own markup never makes (`<details>`, `<img>`, `<a>`, `<del>`, …);
 * - no mention or issue reference in text outside code, as GitHub finds them after rendering.
 * The terminal plan shows bidi and invisible characters as `\u{…}`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import rehypeRaw from 'rehype-raw';
import rehypeSanitize, { defaultSchema } from 'rehype-sanitize';
import rehypeStringify from 'rehype-stringify';
import remarkGfm from 'remark-gfm';
import remarkParse from 'remark-parse';
import remarkRehype from 'remark-rehype';
import { unified } from 'unified';
import { printString } from '../../grammar/index.js';
import type { Plan } from '../../compiler/index.js';
import { renderPlanMarkdown } from '../../cli/render-markdown.js';
import { renderPlan } from '../../cli/render-plan.js';
import { build } from '../lock/harness.js';
import { chromiumDescribe, dumpDom } from '../support/chromium.js';

/** Pieces of hostile strings: HTML that collapses or hides, code-span breakers, links, images, mentions, markdown, hidden characters. */
const PIECES = [
  '<details><summary>SMBIOS vendor string only</summary><table><tr><td>',
  '</td></tr></table>',
  '`',
  '``',
  "<img src='https://attacker.example/t.png'>",
  '![i](https://attacker.example/t.png)',
  '[click](https://attacker.example/)',
  ' cc @org/admins ',
  '@octocat',
  'a@b.example',
  'https://attacker.example/x',
  'www.attacker.example',
  '|',
  '\\|',
  '*b*',
  '_i_',
  '~~struck~~',
  '$x^2$',
  '#12',
  '<!--',
  '-->',
  '<div hidden>',
  '<sub>',
  '&lt;',
  '&amp;',
  '\\',
  '"',
  '\u202e',
  '\u200b',
  '\u2066',
  'plain',
  '/',
  ' ',
];

const hostile = fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 6 }).map((a) => `x${a.join('')}`);
/** A string literal the parser reads as `s` (hidden characters spelled `\u{…}`, as the language wants). */
const quoted = printString;

interface Fields {
  manufacturer: string;
  product: string;
  script: string;
  file: string;
  serial: string;
  share: string;
  log: string;
  port: string;
  romfile: string;
  tag: string;
}
const fields = fc.record<Fields>({ manufacturer: hostile, product: hostile, script: hostile, file: hostile, serial: hostile, share: hostile, log: hostile, port: hostile, romfile: hostile, tag: hostile });
const PLAIN: Fields = { manufacturer: 'Acme', product: 'Desk', script: 'up', file: 'disk', serial: 'S1', share: 'srv', log: 'con', port: 'agent', romfile: 'boot', tag: 'share' };

function machine(f: Fields): string {
  return [
    'machine m {',
    '  chipset = q35',
    `  smbios = { manufacturer = ${quoted(f.manufacturer)}, product = ${quoted(f.product)} }`,
    `  device nic0: e1000 { netdev = tap { script = ${quoted(`/tmp/${f.script}.sh`)} }, romfile = ${quoted(`${f.romfile}.rom`)} }`,
    `  device disk0: virtio-blk-pci { file = ${quoted(`${f.file}.qcow2`)}, serial = ${quoted(f.serial)} }`,
    `  device fs0: virtio-9p-pci { path = ${quoted(`/${f.share}`)}, tag = ${quoted(f.tag)} }`,
    `  device con: virtio-serial-pci { device ag: virtserialport { chardev = file { path = ${quoted(`/tmp/${f.log}.log`)} }, name = ${quoted(f.port)} } }`,
    '}',
    '',
  ].join('\n');
}

/** What a reviewer must see, from the plan itself: each machine line, device, notice, option value and host effect that changes. */
function changeLines(plan: Plan): string[] {
  const out = [...plan.machine];
  for (const c of plan.changes) out.push(c.id, ...c.notices);
  for (const o of plan.options) out.push(o.option, ...[o.before, o.after].filter((v): v is string => !!v));
  for (const e of plan.hostEffects) if (e.sign !== '=') out.push(e.text);
  return out;
}

async function githubHtml(md: string): Promise<string> {
  const file = await unified().use(remarkParse).use(remarkGfm).use(remarkRehype, { allowDangerousHtml: true }).use(rehypeRaw).use(rehypeSanitize, defaultSchema).use(rehypeStringify).process(md);
  return String(file);
}

/** Runs in the page: for each comment, what a reviewer would miss or be tricked by. */
function inspect(cases: { expected: string[] }[]): string[][] {
  const norm = (s: string): string => s.replace(/\u2060/g, '').replace(/\s+/g, ' ').trim();
  const allowed = new Set(['P', 'STRONG', 'CODE', 'PRE', 'TABLE', 'THEAD', 'TBODY', 'TR', 'TH', 'TD', 'UL', 'LI', 'BR']);
  return cases.map((c, i) => {
    const article = document.getElementById(`case${i}`)!;
    const problems: string[] = [];
    for (const el of article.querySelectorAll('*')) if (!allowed.has(el.tagName)) problems.push(`element <${el.tagName.toLowerCase()}>`);
    const blocks = [...article.querySelectorAll<HTMLElement>('p, li, tr')];
    for (const s of c.expected) {
      const want = norm(s);
      const holder = blocks.find((b) => norm(b.innerText).includes(want));
      if (!holder) problems.push(`not shown: ${want}`);
      else if (holder.getBoundingClientRect().width <= 0 || holder.getBoundingClientRect().height <= 0) problems.push(`no size: ${want}`);
    }
    const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (n.parentElement?.closest('code, pre, a')) continue;
      const t = n.nodeValue ?? '';
      if (/(?:^|[^\w`])@[a-z0-9]/i.test(t)) problems.push(`mention in: ${t}`);
      if (/(?:^|[^\w])#\d/.test(t)) problems.push(`issue reference in: ${t}`);
    }
    return problems;
  });
}

const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

async function renderInChromium(comments: { md: string; expected: string[] }[]): Promise<string[][]> {
  const articles = await Promise.all(comments.map(async (c, i) => `<article id="case${i}">${await githubHtml(c.md)}</article>`));
  const cases = comments.map((c) => ({ expected: c.expected }));
  const page = `<!doctype html><html><head><meta charset="utf-8"></head><body>${articles.join('\n')}<pre id="result"></pre>
<script>document.getElementById('result').textContent = JSON.stringify((${inspect.toString()})(${scriptJson(cases)}));</script></body></html>`;
  const dir = mkdtempSync(join(tmpdir(), 'machinec-comment-'));
  try {
    writeFileSync(join(dir, 'comment.html'), page);
    const dom = dumpDom(join(dir, 'comment.html'), 2000);
    const m = /<pre id="result">([^<]*)<\/pre>/.exec(dom);
    if (!m) throw new Error('the page did not report');
    return JSON.parse(m[1].replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')) as string[][];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function comment(f: Fields): { md: string; expected: string[] } {
  const before = build(machine(PLAIN));
  const after = build(machine(f), before);
  const plan = after.plan!;
  return { md: renderPlanMarkdown(plan, { title: 'm.machine against m.machine.lock', after: after.machine! }), expected: changeLines(plan) };
}

/** How the comment shows a string: hidden characters as `\u{…}`, as the terminal does. */
const shownAs = (s: string): string => s.replace(/[\u202e\u200b\u2066]/g, (c) => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`);

chromiumDescribe('the pull-request comment as GitHub renders it, in Chromium', () => {
  test('the reported machine: nothing collapsed, no image, no mention', async () => {
    const f: Fields = { ...PLAIN, manufacturer: 'Acme<details><summary>SMBIOS vendor string only</summary><table><tr><td>', file: "d`<img src='https://attacker.example/t.png'> cc @org/admins `" };
    const c = comment(f);
    const [problems] = await renderInChromium([{ ...c, expected: c.expected.map(shownAs) }]);
    expect(problems).toEqual([]);
  }, 60_000);

  test('generated machines with hostile strings in every string field show every change line', async () => {
    const samples = fc.sample(fields, { numRuns: 40, seed: 20261207 });
    const comments = samples.map((f) => {
      const c = comment(f);
      return { ...c, expected: c.expected.map(shownAs) };
    });
    const problems = await renderInChromium(comments);
    const failed = problems.map((p, i) => ({ fields: samples[i], problems: p })).filter((x) => x.problems.length);
    expect(failed).toEqual([]);
  }, 180_000);
});

describe('the terminal plan', () => {
  test('bidi and invisible characters in user strings are shown as \\u{…}', () => {
    const before = build(machine(PLAIN));
    const after = build(machine({ ...PLAIN, serial: 'ab\u202edc', file: 'x\u200by' }), before);
    const text = renderPlan(after.plan!, { color: false });
    expect(text).not.toMatch(/[\u202e\u200b]/);
    expect(text).toContain('ab\\u{202E}dc');
    expect(text).toContain('x\\u{200B}y.qcow2');
  });

  test('generated hostile strings: no control, format or separator character reaches the terminal', () => {
    const before = build(machine(PLAIN));
    for (const f of fc.sample(fields, { numRuns: 20, seed: 7 })) {
      const text = renderPlan(build(machine(f), before).plan!, { color: false });
      expect(text.replace(/\n/g, '')).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
      for (const c of ['\u202e', '\u200b', '\u2066']) if (Object.values(f).some((v) => v.includes(c))) expect(text).toContain(`\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`);
    }
  });
});
