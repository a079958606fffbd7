/**
 * Golden files for diagnostics: every `specs/errors/<case>.machine` fails to compile with exactly
 * the rendered diagnostics in `<case>.errors.txt` (no color, the case file's base name shown).
 * `UPDATE_GOLDENS=1` rewrites the goldens; otherwise they are compared exactly.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from '../compiler/index.js';
import { expectGolden } from './support/golden.js';
import { renderDiagnostics } from '../cli/render-diagnostic.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'errors');
const cases = readdirSync(dir).filter((f) => f.endsWith('.machine')).sort();

/** Codes whose diagnostics always say what to do. */
const NEEDS_HINT = new Set([
  'unknown-model', 'unknown-property', 'unknown-chipset', 'missing-backend', 'duplicate-id', 'invalid-id', 'duplicate-property',
  'bad-address', 'reserved-address', 'address-conflict', 'wrong-bus', 'chipset-model', 'bus-capacity', 'uuid-format',
  'memory-size', 'backend-type', 'unclosed-string', 'bad-character', 'bus-full', 'address-taken',
]);

describe('error goldens', () => {
  test('there are at least 35 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(35);
  });

  for (const name of cases) {
    test(name.replace(/\.machine$/, ''), () => {
      const source = readFileSync(join(dir, name), 'utf8');
      let r: ReturnType<typeof compile> | undefined;
      expect(() => { r = compile({ file: name, source }); }).not.toThrow();
      expect(r!.ok).toBe(false);
      expect(r!.argv).toBeUndefined();
      expect(r!.lockText).toBeUndefined();
      expect(r!.diagnostics.length).toBeGreaterThan(0);
      for (const d of r!.diagnostics) {
        expect(d.code).toMatch(/^[a-z]+(-[a-z0-9]+)*$/);
        expect(d.file).toBe(name);
        expect(d.message.length).toBeGreaterThan(0);
        expect(d.span).toBeDefined();
        expect(d.span!.start).toBeGreaterThanOrEqual(0);
        expect(d.span!.end).toBeGreaterThanOrEqual(d.span!.start);
        expect(d.span!.end).toBeLessThanOrEqual(source.length);
        if (NEEDS_HINT.has(d.code)) expect(d.hint ?? '').not.toBe('');
        for (const rel of d.related ?? []) expect(rel.span).toBeDefined();
      }
      // Diagnostics come in source order.
      const starts = r!.diagnostics.map((d) => d.span!.start);
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
      const rendered = renderDiagnostics(r!.diagnostics, new Map([[name, source]]), false);
      expect(rendered).not.toMatch(/\x1b\[/);
      expectGolden(join(dir, name.replace(/\.machine$/, '.errors.txt')), rendered);
    });
  }
});

describe('error rules', () => {
  test('every diagnostic of a multi-error file is reported, not only the first', () => {
    const source = readFileSync(join(dir, 'syntax-recovery-many.machine'), 'utf8');
    const r = compile({ file: 'x.machine', source });
    expect(r.diagnostics.filter((d) => d.code === 'syntax-error').length).toBeGreaterThanOrEqual(3);
  });

  test('an unclosed string reports the string and nothing the checks would derive from the wreck', () => {
    const r = compile({ file: 'x.machine', source: 'machine m {\n  device d: virtio-blk-pci { file = "disk.img }\n}\n' });
    expect(r.diagnostics.map((d) => d.code)).toEqual(['unclosed-string']);
  });

  test('a virtio-serial bus takes 30 ports (nr 1..30), never nr 31', () => {
    const ports = (n: number) => Array.from({ length: n }, (_, i) => `device p${i}: virtserialport { chardev = null }`).join('\n');
    const ok = compile({ file: 'x.machine', source: `machine m { device vs: virtio-serial-pci {\n${ports(30)}\n} }` });
    expect(ok.ok).toBe(true);
    expect(ok.argv!.some((a) => /,nr=31(,|$)/.test(a))).toBe(false);
    const bad = compile({ file: 'x.machine', source: `machine m { device vs: virtio-serial-pci {\n${ports(31)}\n} }` });
    expect(bad.ok).toBe(false);
    expect(bad.diagnostics.map((d) => d.code)).toEqual(['bus-capacity']);
  });
});
