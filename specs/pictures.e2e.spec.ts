/**
 * The pictures, in a real browser (headless Chromium):
 * - every mermaid block of the golden markdown plans (specs/markdown/*.md) and `graph --format
 *   mermaid` of every sample is parsed by the `mermaid` package itself, loaded into the page
 *   from node_modules (a broken block is shown to fail, so the check can fail);
 * - `graph` SVG of every sample is rendered and screenshot (PNG files in a temp folder): the
 *   screenshot is not blank, and every device id of the sample is in the page's text with a
 *   rendered (non-empty) box.
 */
import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { readLock } from '../compiler/index.js';
import { tempFolder } from './support/temp.js';
import { chromiumDescribe, dumpDom, inkPixels, screenshot } from './support/chromium.js';
import { runCli } from './support/cli.js';

const here = import.meta.dirname ?? new URL('.', import.meta.url).pathname;
const samples = join(here, '..', 'samples');
const sampleNames = readdirSync(samples).filter((f) => f.endsWith('.machine')).sort();
const require = createRequire(import.meta.url);

const blocksOf = (md: string): string[] => [...md.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((m) => m[1]);

/** Parses each block with mermaid in Chromium: 'ok' or the parser's first line of error. */
function mermaidParse(blocks: readonly string[]): string[] {
  const dir = tempFolder('machinec-mermaid-');
  copyFileSync(require.resolve('mermaid/dist/mermaid.min.js'), join(dir, 'mermaid.min.js'));
  writeFileSync(
    join(dir, 'parse.html'),
    `<html><body><pre id="out">pending</pre><script src="mermaid.min.js"></script><script>
const blocks = ${JSON.stringify(blocks).replace(/</g, '\\u003c')};
(async () => {
  const res = [];
  for (const b of blocks) { try { await mermaid.parse(b); res.push('ok'); } catch (e) { res.push('error: ' + String(e && e.message || e).split('\\n')[0]); } }
  document.getElementById('out').textContent = JSON.stringify(res);
})();
</script></body></html>`,
  );
  const dom = dumpDom(join(dir, 'parse.html'));
  const m = /<pre id="out">(.*?)<\/pre>/s.exec(dom);
  const text = (m?.[1] ?? '').replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
  return text.startsWith('[') ? JSON.parse(text) : [`no result: ${text}`];
}

chromiumDescribe('pictures in headless Chromium', () => {
  test('every mermaid block parses with the mermaid package; a broken one does not', async () => {
    const blocks: { from: string; text: string }[] = [];
    const mdDir = join(here, 'markdown');
    for (const f of readdirSync(mdDir).filter((x) => x.endsWith('.md')).sort()) for (const b of blocksOf(readFileSync(join(mdDir, f), 'utf8'))) blocks.push({ from: f, text: b });
    for (const s of sampleNames) {
      const r = await runCli(['graph', s, '--format', 'mermaid'], samples);
      expect(r.code).toBe(0);
      blocks.push({ from: `graph ${s}`, text: r.stdout });
    }
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    const broken = 'flowchart LR\n  n0["unclosed --> n1\n';
    const results = mermaidParse([...blocks.map((b) => b.text), broken]);
    expect(results.pop()).toMatch(/^error/);
    expect(Object.fromEntries(blocks.map((b, i) => [b.from + ` #${i}`, results[i]]))).toEqual(Object.fromEntries(blocks.map((b, i) => [b.from + ` #${i}`, 'ok'])));
  }, 120_000);

  test.each(sampleNames)('graph %s: the SVG renders, not blank, every device id visible', async (name) => {
    const r = await runCli(['graph', name], samples);
    expect(r.code).toBe(0);
    const svg = r.stdout;
    const dir = tempFolder('machinec-graph-');
    const width = Number(/width="(\d+)"/.exec(svg)![1]);
    const height = Number(/height="(\d+)"/.exec(svg)![1]);
    writeFileSync(join(dir, 'graph.svg'), svg);
    writeFileSync(
      join(dir, 'page.html'),
      `<html><body style="margin:0">${svg}<pre id="out"></pre><script>
const seen = [...document.querySelectorAll('svg g.node')].map((g) => { const b = g.getBBox(); const t = g.querySelector('text'); return { id: g.dataset.id, text: t.textContent, w: b.width, h: b.height }; });
document.getElementById('out').textContent = JSON.stringify({ text: document.body.innerText, seen });
</script></body></html>`,
    );
    const png = join(dir, `${name}.png`);
    screenshot(join(dir, 'graph.svg'), png, { width: Math.min(width, 4000), height: Math.min(height, 4000) });
    expect(inkPixels(readFileSync(png))).toBeGreaterThan(2000);
    const dom = dumpDom(join(dir, 'page.html'), 2000);
    const out = JSON.parse(/<pre id="out">(.*?)<\/pre>/s.exec(dom)![1].replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>'));
    const lock = readLock(readFileSync(join(samples, `${name}.lock`), 'utf8'), 'lock').lock!;
    for (const d of lock.devices) {
      expect(out.text).toContain(d.id);
      const box = out.seen.find((s: { id: string }) => s.id === d.id);
      expect(box && box.w > 20 && box.h > 20).toBe(true);
    }
  }, 120_000);
});
