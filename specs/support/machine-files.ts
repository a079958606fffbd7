/** The .machine files the grammar's specs parse: every one under specs/ and samples/. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');

function machineFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : machineFiles(path);
    return e.name.endsWith('.machine') ? [path] : [];
  });
}

/** Every .machine under specs/ and samples/, sorted. */
export const corpusFiles = (): string[] => [...machineFiles(join(root, 'specs')), ...machineFiles(join(root, 'samples'))].sort();
