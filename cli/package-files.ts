/** The files of machinec's package that commands read at run time (docs/ for help, examples/ for init), and text for a terminal. */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Io } from './io.js';

/** This module's own file, where the runtime has it (the bundled core is a script without import.meta). */
function ownFile(): string | undefined {
  try {
    return fileURLToPath(import.meta.url);
  } catch {
    return undefined;
  }
}

/** The folder holding machinec's package.json: above the running binary (dist/machinec.mjs), this source file, or the script node runs. */
export function packageRoot(io: Pick<Io, 'workerEntry'>): string | undefined {
  const starts = [io.workerEntry, ownFile(), process.argv[1] && existsSync(process.argv[1]) ? realpathSync(process.argv[1]) : undefined];
  for (const start of starts) {
    if (!start) continue;
    for (let d = dirname(start); dirname(d) !== d; d = dirname(d)) {
      const manifest = join(d, 'package.json');
      if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'machinec') return d;
    }
  }
  return undefined;
}

/**
 * Text for a terminal: every control character but newline and tab, DEL, the C1 controls (a lone 0x9b starts an
 * escape sequence on some terminals) and the bidirectional overrides are written as \u{…}, so a page cannot move
 * the cursor, recolour the terminal or reorder what the reader sees.
 */
export function terminalText(text: string): string {
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/** The guide's topics: docs/NAME.md, with each page's first heading. */
export function topics(root: string): { name: string; title: string }[] {
  const dir = join(root, 'docs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => {
      const heading = /^#\s+(.*)$/m.exec(readFileSync(join(dir, f), 'utf8'));
      return { name: f.slice(0, -3), title: heading ? heading[1].trim() : '' };
    });
}
