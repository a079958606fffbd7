/** A bus tree as a mermaid flowchart (GitHub renders these in markdown). */
import type { TopologyNode } from '../../compiler/index.js';
import { walkTopology } from '../../compiler/index.js';
import { mermaidText as text } from '../escape-markup.js';

const STYLES: Record<string, string> = {
  added: 'fill:#dafbe1,stroke:#1a7f37,stroke-width:2px',
  removed: 'fill:#ffebe9,stroke:#cf222e,stroke-width:2px,stroke-dasharray:4 3',
  moved: 'fill:#fff8c5,stroke:#9a6700,stroke-width:2px',
  changed: 'fill:#ddf4ff,stroke:#0969da,stroke-width:2px',
  renamed: 'fill:#fbefff,stroke:#8250df,stroke-width:2px',
  auto: 'fill:#f6f8fa,stroke:#8c959f,stroke-dasharray:3 3,color:#57606a',
  bus: 'fill:#ffffff,stroke:#24292f',
};


export function topologyToMermaid(root: TopologyNode): string {
  const key = new Map<TopologyNode, string>();
  let n = 0;
  const lines = ['flowchart LR'];
  const classes = new Map<string, string[]>();
  for (const node of walkTopology(root)) {
    const k = `n${n++}`;
    key.set(node, k);
    const mark = node.mark ? ` (${node.mark})` : node.auto ? ' (machinec)' : '';
    const label = [`${text(node.title)}${mark}`, text(node.subtitle), text(node.address)].join('<br/>');
    lines.push(node.kind === 'bus' ? `  ${k}[["${label}"]]` : `  ${k}["${label}"]`);
    const cls = node.mark ?? (node.kind === 'bus' ? 'bus' : node.auto ? 'auto' : undefined);
    if (cls) classes.set(cls, [...(classes.get(cls) ?? []), k]);
  }
  for (const node of walkTopology(root)) for (const c of node.children) lines.push(`  ${key.get(node)} --> ${key.get(c)}`);
  for (const [cls, keys] of classes) {
    lines.push(`  classDef ${cls} ${STYLES[cls]}`);
    lines.push(`  class ${keys.join(',')} ${cls}`);
  }
  return lines.join('\n') + '\n';
}
