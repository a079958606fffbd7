/**
 * A bus tree as a standalone SVG, laid out here (no external program, no layout library): a tidy
 * tree from left to right, one column per depth, leaves one row each, every parent centred on its
 * children. machinec's own root ports and bridges are drawn dashed and grey, apart from the
 * devices of the source; changes in a plan are coloured.
 */
import type { TopologyNode } from '../../compiler/index.js';
import { xmlText as xml } from '../escape-markup.js';

const CHAR = 7.4;
const LINE = 15;
const PAD = 8;
const ROW = 62;
const GAP = 48;
const BOX_H = 3 * LINE + PAD;
const TOP = 48;

const STROKE: Record<string, string> = { added: '#1a7f37', removed: '#cf222e', moved: '#9a6700', changed: '#0969da', renamed: '#8250df' };
const FILL: Record<string, string> = { added: '#dafbe1', removed: '#ffebe9', moved: '#fff8c5', changed: '#ddf4ff', renamed: '#fbefff' };


interface Laid {
  node: TopologyNode;
  depth: number;
  y: number;
}

function lines(node: TopologyNode): string[] {
  const suffix = node.mark ? ` (${node.mark})` : node.auto ? ' (machinec)' : '';
  return [node.title + suffix, node.subtitle, node.address];
}

export function topologyToSvg(root: TopologyNode, title: string): string {
  const laid: Laid[] = [];
  const edges: [Laid, Laid][] = [];
  let nextRow = 0;
  const visit = (node: TopologyNode, depth: number): Laid => {
    const kids = node.children.map((c) => visit(c, depth + 1));
    const y = kids.length ? (kids[0].y + kids[kids.length - 1].y) / 2 : nextRow++ * ROW;
    const me = { node, depth, y };
    laid.push(me);
    for (const k of kids) edges.push([me, k]);
    return me;
  };
  visit(root, 0);
  const depths = Math.max(...laid.map((l) => l.depth)) + 1;
  const widths = Array.from({ length: depths }, (_, d) => Math.max(...laid.filter((l) => l.depth === d).map((l) => Math.max(...lines(l.node).map((s) => s.length)) * CHAR + 2 * PAD)));
  const xs = widths.map((_, d) => 16 + widths.slice(0, d).reduce((a, b) => a + b + GAP, 0));
  const width = Math.ceil(xs[depths - 1] + widths[depths - 1] + 16);
  const legendY = TOP + nextRow * ROW + 8;
  const height = Math.ceil(legendY + 28);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans Mono, monospace" font-size="12">`,
    `<title>${xml(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="15" font-weight="bold" fill="#24292f">${xml(title)}</text>`,
  ];
  for (const [p, c] of edges) {
    const x1 = xs[p.depth] + widths[p.depth];
    const x2 = xs[c.depth];
    const y1 = TOP + p.y + BOX_H / 2;
    const y2 = TOP + c.y + BOX_H / 2;
    const mid = x1 + GAP / 2;
    out.push(`<path d="M${x1} ${y1}H${mid}V${y2}H${x2}" fill="none" stroke="#8c959f" stroke-width="1.5"/>`);
  }
  for (const l of laid) {
    const n = l.node;
    const x = xs[l.depth];
    const y = TOP + l.y;
    const stroke = n.mark ? STROKE[n.mark] : n.auto ? '#8c959f' : '#24292f';
    const fill = n.mark ? FILL[n.mark] : n.kind === 'bus' ? '#eaeef2' : n.auto ? '#f6f8fa' : '#ffffff';
    const dash = n.auto || n.mark === 'removed' ? ' stroke-dasharray="5 3"' : '';
    const cls = ['node', n.kind, n.auto ? 'auto' : 'user', n.mark ?? ''].filter(Boolean).join(' ');
    out.push(`<g class="${cls}" data-id="${xml(n.title)}">`);
    out.push(`<rect x="${x}" y="${y}" width="${widths[l.depth]}" height="${BOX_H}" rx="6" fill="${fill}" stroke="${stroke}" stroke-width="${n.mark ? 2.5 : 1.5}"${dash}/>`);
    const [a, b, c] = lines(n);
    const color = n.auto ? '#57606a' : '#24292f';
    out.push(`<text x="${x + PAD}" y="${y + PAD + 11}" fill="${color}" font-weight="bold">${xml(a)}</text>`);
    out.push(`<text x="${x + PAD}" y="${y + PAD + 11 + LINE}" fill="${color}">${xml(b)}</text>`);
    out.push(`<text x="${x + PAD}" y="${y + PAD + 11 + 2 * LINE}" fill="#57606a">${xml(c)}</text>`);
    out.push('</g>');
  }
  out.push(`<rect x="16" y="${legendY}" width="14" height="14" fill="#f6f8fa" stroke="#8c959f" stroke-dasharray="5 3"/>`);
  out.push(`<text x="36" y="${legendY + 11}" fill="#57606a">created by machinec (root ports, bridges)</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
