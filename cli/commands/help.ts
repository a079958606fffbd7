/** `machinec help [TOPIC]`: the guide's pages (docs/*.md, shipped in the package) in the terminal. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot, terminalText, topics } from '../package-files.js';
import type { Session } from '../session.js';

/** Prints the page of `topic`, or the list of topics; an unknown topic is a usage error naming them. */
export async function helpTopicCommand(s: Session, topic: string | undefined): Promise<number> {
  const root = packageRoot(s.io);
  const all = root ? topics(root) : [];
  if (!root || !all.length) return s.fail('unreadable-file', 'the guide (docs/) is not in this machinec installation', { hint: 'reinstall machinec from its package (npm pack ships docs/)' });
  if (topic === undefined) {
    const width = Math.max(...all.map((t) => t.name.length));
    s.io.stdout(terminalText(`Topics (machinec help TOPIC prints one; machinec help COMMAND, or COMMAND --help, a command's options):\n${all.map((t) => `  ${t.name.padEnd(width)}  ${t.title}`).join('\n')}\n`));
    return 0;
  }
  const page = all.find((t) => t.name === topic.toLowerCase());
  if (!page) return s.fail('usage', `no help topic or command named ${JSON.stringify(topic)}`, { hint: `topics: ${all.map((t) => t.name).join(', ')}` }, 2);
  s.io.stdout(terminalText(readFileSync(join(root, 'docs', `${page.name}.md`), 'utf8')));
  return 0;
}
