/** `machinec graph FILE [--format svg|dot|mermaid]`: a picture of the machine's buses and devices. */
import { topologyOf } from '../../compiler/index.js';
import { topologyToDot } from '../graph/dot.js';
import { topologyToMermaid } from '../graph/mermaid.js';
import { topologyToSvg } from '../graph/svg.js';
import type { Session } from '../session.js';

export type GraphFormat = 'svg' | 'dot' | 'mermaid';

export async function graphCommand(s: Session, file: string, opts: { format: GraphFormat }): Promise<number> {
  const f = await s.compileFile(file, { qemu: false });
  s.report(f.diagnostics);
  const m = f.compilation?.machine;
  if (!f.compilation?.ok || !m) return 1;
  const tree = topologyOf(m);
  const title = `${m.name}: ${m.machineType}${f.lockText === undefined ? ' (not locked yet)' : f.lockText === f.compilation.lockText ? '' : ' (lock out of date: as a build would place it)'}`;
  const text = opts.format === 'dot' ? topologyToDot(tree, m.name) : opts.format === 'mermaid' ? topologyToMermaid(tree) : topologyToSvg(tree, title);
  s.io.stdout(text);
  return 0;
}
