/**
 * String literals: what machinec writes as `.machine` text reads back as the value it meant, for
 * every string (the parser is the independent reader of the printer); escapes the language does
 * not have, and characters that do not show, are errors with a place and a hint.
 */
import fc from 'fast-check';
import { parse, printString, type StringValue } from '../grammar/index.js';
import { serialOfChardev, smbiosProperty } from '../cli/import/vm-args.js';
import { compile } from '../compiler/index.js';

/** The values of a machine's top-level string properties, and the parse's diagnostics. */
function read(body: string): { values: Map<string, unknown>; codes: string[] } {
  const r = parse(`machine m {\n  chipset = q35\n${body}\n}\n`, 'm.machine');
  const values = new Map<string, unknown>();
  for (const m of r.ast.machine?.members ?? []) {
    if (m.kind !== 'Property') continue;
    const v = m.value;
    if (!v) continue;
    if (v.kind === 'String') values.set(m.key.name, v.value);
    if (v.kind === 'Block') values.set(m.key.name, new Map(v.properties.map((p) => [p.key.name, (p.value as StringValue).value])));
  }
  return { values, codes: r.diagnostics.map((d) => d.code) };
}

const anyString = fc.string({ unit: 'binary', maxLength: 40 });

test('printString: every string reads back as itself, with no diagnostic', () => {
  fc.assert(
    fc.property(anyString, (s) => {
      const { values, codes } = read(`  name = ${printString(s)}`);
      expect(codes).toEqual([]);
      expect(values.get('name')).toBe(s);
    }),
    { numRuns: 2000 },
  );
});

test("import's SMBIOS and serial writers: any string from a QEMU command line reads back as itself", () => {
  fc.assert(
    fc.property(anyString, fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), (manufacturer, path) => {
      const smbios = smbiosProperty([['type', '1'], ['manufacturer', manufacturer]], []);
      const serial = serialOfChardev({ type: 'file', options: [['path', path]] }, '-serial', []);
      const { values, codes } = read(`  smbios = ${smbios}\n  serial = ${serial}`);
      expect(codes).toEqual([]);
      expect((values.get('smbios') as Map<string, string>).get('manufacturer')).toBe(manufacturer);
      expect((values.get('serial') as Map<string, string>).get('path')).toBe(path);
    }),
    { numRuns: 500 },
  );
});

test('a NUL in an imported file name is written so it reads back as a NUL, not as "u0000"', () => {
  const { values } = read(`  name = ${printString('b\u0000.qcow2')}`);
  expect(values.get('name')).toBe('b\u0000.qcow2');
});

test.each([
  ['an unknown escape', '"a\\qb"', 'string-escape', 2, '\\q is not an escape the language has'],
  ['a \\u without braces', '"\\u0000"', 'string-escape', 1, '\\u is not a Unicode character'],
  ['a \\u{} past 10FFFF', '"\\u{110000}"', 'string-escape', 1, '\\u{110000} is not a Unicode character'],
  ['a bidi override as written', '"evil\u202Egpj.exe"', 'hidden-character', 5, 'U+202E'],
  ['a zero-width space as written', '"a\u200Bb"', 'hidden-character', 2, 'U+200B'],
  ['an escape character as written', '"\u001b[31m"', 'hidden-character', 1, 'U+001B'],
])('%s is an error at its place, with a hint', (_what, literal, code, column, message) => {
  const source = `machine m {\n  chipset = q35\n  smbios = { manufacturer = ${literal} }\n}\n`;
  const r = compile({ file: 'm.machine', source });
  expect(r.ok).toBe(false);
  const d = r.diagnostics.find((x) => x.code === code)!;
  expect(d).toBeDefined();
  expect(d.message).toContain(message);
  expect(d.hint).toBeTruthy();
  expect(d.span!.start).toBe(source.indexOf(literal) + column);
});

test('the escapes the language has mean what they say', () => {
  const { values, codes } = read('  name = "a\\\\b\\"c\\nd\\te\\rf\\u{202E}g\\u{1F600}"');
  expect(codes).toEqual([]);
  expect(values.get('name')).toBe('a\\b"c\nd\te\rf\u202Eg\u{1F600}');
});
