/**
 * Every diagnostic machinec emits is a registered check's id (or a command failure's, phase
 * `command`): what the parser and the lock reader make is relayed by the check of its code, and a
 * code no check registers fails loudly (compile() and the renderer throw). Every golden error file
 * under specs/ is walked and each code in it must be registered; the table of codes in docs/diagnostics.md is
 * the registry, both ways.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lockReadChecks, parserChecks, relayRead } from '../compiler/checks/lock.js';
import { assertRegistered, isRegistered, registry, type Diagnostic } from '../compiler/index.js';
import { renderDiagnostics } from '../cli/render-diagnostic.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const made = (code: string): Diagnostic => ({ code, severity: 'error', message: 'm', file: 'x.machine', span: { start: 0, end: 1 } });

describe('relaying what the parser and the lock reader found', () => {
  test('a registered code is reported by its check, in order', () => {
    const out = relayRead(parserChecks, [made('too-deep'), made('syntax-error')], 'x.machine', []);
    expect(out.map((d) => d.code)).toEqual(['too-deep', 'syntax-error']);
  });
  test('an unregistered code throws naming it, it is never dropped', () => {
    expect(() => relayRead(parserChecks, [made('syntax-error'), made('brand-new-code')], 'x.machine', [])).toThrow(/brand-new-code is not a registered check/);
    expect(() => relayRead(lockReadChecks, [made('syntax-error')], 'x.machine.lock', [])).toThrow(/syntax-error is not a registered check/);
  });
  test('the renderer refuses an unregistered code, even past the rendered thousand', () => {
    expect(() => renderDiagnostics([made('brand-new-code')], new Map())).toThrow(/brand-new-code is not registered/);
    const many = [...Array.from({ length: 1000 }, () => made('syntax-error')), made('brand-new-code')];
    expect(() => renderDiagnostics(many, new Map())).toThrow(/brand-new-code/);
    expect(() => assertRegistered([made('bus-full'), made('usage')])).not.toThrow();
  });
});

describe('the registry', () => {
  test('ids are unique, kebab-case, and cover every phase', () => {
    const ids = registry.map((r) => r.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    for (const id of ids) expect(id).toMatch(/^[a-z]+(-[a-z0-9]+)*$/);
    expect(new Set(registry.map((r) => r.phase))).toEqual(new Set(['source', 'lock', 'placed', 'command']));
  });
});

/** Every file under specs/ that is not a spec's code: goldens, whatever their folder or name. */
function goldenFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...goldenFiles(path));
    else if (!/\.(ts|js|mjs)$/.test(e.name)) out.push(path);
  }
  return out;
}

/** `error[code]`, `warning[code]`, `note[code]` as the renderer prints them, and `warning code: …` lines (the export goldens). */
const CODE = /\b(?:error|warning|note)\[([a-z0-9-]+)\]|^(?:error|warning|note) ([a-z][a-z0-9-]*):/gm;
const codesIn = (text: string): string[] => [...text.matchAll(CODE)].map((m) => m[1] ?? m[2]);

/** The codes of `files` that no check registers, as `file: code`. */
const unregistered = (files: ReadonlyMap<string, string>): string[] =>
  [...files].flatMap(([file, text]) => codesIn(text).filter((c) => !isRegistered(c)).map((c) => `${file}: ${c}`));

describe('every code in every golden error file is a registered check', () => {
  const files = new Map(goldenFiles(join(root, 'specs')).map((f) => [relative(root, f), readFileSync(f, 'utf8')] as const).filter(([, text]) => codesIn(text).length));

  test('the walk finds the golden error files of every suite', () => {
    expect(files.size).toBeGreaterThan(80);
    const folders = new Set([...files.keys()].map((f) => dirname(f)));
    for (const f of ['specs/errors', 'specs/lock', 'specs/limits', 'specs/export/libvirt']) expect(folders).toContain(f);
    expect(new Set([...files.values()].flatMap(codesIn)).size).toBeGreaterThanOrEqual(40);
  });
  test('each of their codes is registered', () => {
    expect(unregistered(files)).toEqual([]);
  });
  test('a golden with a code no check registers fails', () => {
    const planted = new Map(files).set('specs/errors/planted.errors.txt', 'error[not-a-check]: planted\n --> planted.machine:1:1\n').set('specs/export/planted.txt', 'warning not-an-export-check: planted\n');
    expect(unregistered(planted)).toEqual(['specs/errors/planted.errors.txt: not-a-check', 'specs/export/planted.txt: not-an-export-check']);
  });
});

/** The guide's table of codes: `| \`code\` | phase | severity | … |` rows in docs/diagnostics.md. */
function guideCodes(): Map<string, string> {
  const section = readFileSync(join(root, 'docs', 'diagnostics.md'), 'utf8');
  const rows = [...section.matchAll(/^\| `([a-z0-9-]+)` \| (\w+) \| (\w+) \|/gm)];
  return new Map(rows.map((m) => [m[1], `${m[2]} ${m[3]}`]));
}

test("the guide's list of diagnostic codes (docs/diagnostics.md) is the registry, both ways", () => {
  const listed = guideCodes();
  const registered = new Map(registry.map((r) => [r.id, `${r.phase} ${r.severity}`]));
  const table = registry.map((r) => `| \`${r.id}\` | ${r.phase} | ${r.severity} |`).join('\n');
  const missing = [...registered.keys()].filter((id) => !listed.has(id));
  const stale = [...listed.keys()].filter((id) => !registered.has(id));
  const wrong = [...listed].filter(([id, v]) => registered.has(id) && registered.get(id) !== v).map(([id]) => id);
  if (missing.length || stale.length || wrong.length) console.log(`docs/diagnostics.md rows, in registry order:\n${table}`);
  expect({ missing, stale, wrong }).toEqual({ missing: [], stale: [], wrong: [] });
});

describe('CLI failures are Diagnostics rendered one way', () => {
  const cliFiles = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? cliFiles(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : []));
  /** String and template pieces of `text` that spell a rendered diagnostic's head. */
  const handWritten = (text: string): string[] => [...text.matchAll(/['`][^'`\n]*\b(?:error|warning)\[[a-z]/g)].map((m) => m[0]);
  test('no string in cli/ spells error[…] or warning[…]: failures go through diagnose() and the renderer', () => {
    const found = cliFiles('cli').filter((f) => handWritten(readFileSync(join(root, f), 'utf8')).length);
    expect(found).toEqual([]);
    expect(handWritten("s.io.stderr('error[usage]: no files\\n');")).toHaveLength(1);
  });
  test('a failure renders as its code, message and hint, and an unregistered code throws', async () => {
    const { diagnose } = await import('../compiler/index.js');
    const { renderDiagnostic } = await import('../cli/render-diagnostic.js');
    expect(renderDiagnostic(diagnose('qemu-missing', 'qemu-system-x86_64 not found', { hint: 'install it' }), new Map())).toBe('error[qemu-missing]: qemu-system-x86_64 not found\n  = hint: install it');
    expect(diagnose('libvirt-override', 'x').severity).toBe('warning');
    expect(() => diagnose('not-a-failure', 'x')).toThrow(/not-a-failure is not registered/);
  });
});
