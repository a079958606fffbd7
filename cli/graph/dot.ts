/** A bus tree in Graphviz's dot language. */
import type { TopologyNode } from '../../compiler/index.js';
import { walkTopology } from '../../compiler/index.js';
import { dotString as quote } from '../escape-markup.js';

/** A label of several lines: each escaped, then joined with dot's own line break. */
const label = (parts: readonly string[]): string => `"${parts.map((p) => quote(p).slice(1, -1)).join('\\n')}"`;
const COLORS: Record<string, string> = { added: '#1a7f37', removed: '#cf222e', moved: '#9a6700', changed: '#0969da', renamed: '#8250df' };

export function topologyToDot(root: TopologyNode, name: string): string {
  const lines = [`digraph ${quote(name)} {`, '  rankdir=LR;', '  node [shape=box, fontname="monospace", fontsize=10];'];
  const auto: string[] = [];
  for (const node of walkTopology(root)) {
    const attrs = [`label=${label([node.title + (node.mark ? ` (${node.mark})` : ''), node.subtitle, node.address])}`];
    if (node.kind === 'bus') attrs.push('shape=box3d');
    if (node.auto) attrs.push('style=dashed', 'color="#8c959f"');
    if (node.mark) attrs.push(`color=${quote(COLORS[node.mark])}`, 'penwidth=2');
    const line = `  ${quote(node.key)} [${attrs.join(', ')}];`;
    if (node.auto) auto.push(line);
    else lines.push(line);
  }
  // machinec's own root ports and bridges, drawn apart in their own cluster
  if (auto.length) lines.push('  subgraph cluster_machinec {', '    label="created by machinec"; style=dashed; color="#8c959f";', ...auto.map((l) => `  ${l}`), '  }');
  for (const node of walkTopology(root)) for (const c of node.children) lines.push(`  ${quote(node.key)} -> ${quote(c.key)};`);
  lines.push('}');
  return lines.join('\n') + '\n';
}
