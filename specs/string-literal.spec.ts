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
/** XML 1.0's Char production without the controls: what a lock line and a domain XML can both carry (an independent rule). */
const carriable = (s: string): boolean => /^[\u0020-\u007e\u00a0-\u2027\u202a-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]*$/u.test(s);

test('printString: every string reads back as itself, with no diagnostic from the parser', () => {
  fc.assert(
    fc.property(anyString, (s) => {
      const { values, codes } = read(`  name = ${printString(s)}`);
      expect(codes).toEqual([]);
      expect(values.get('name')).toBe(s);
    }),
    { numRuns: 2000 },
  );
});

test('compile refuses exactly the strings a lock line or a domain XML cannot carry', () => {
  fc.assert(
    fc.property(anyString, (s) => {
      const r = compile({ file: 'm.machine', source: `machine m {\n  chipset = q35\n  smbios = { manufacturer = ${printString(s)} }\n}\n` });
      expect(r.diagnostics.map((d) => d.code)).toEqual(carriable(s) ? [] : ['string-control-character']);
    }),
    { numRuns: 500 },
  );
});

test("import's SMBIOS and serial writers: any string from a QEMU command line reads back as itself", () => {
  fc.assert(
    fc.property(anyString, anyString.filter((p) => p !== ''), (manufacturer, path) => {
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

test('a NUL in an imported name is written so it reads back as a NUL (and is refused), not as "u0000"', () => {
  const { values, codes } = read(`  name = ${printString('b\u0000.qcow2')}`);
  expect(codes).toEqual([]);
  expect(values.get('name')).toBe('b\u0000.qcow2');
  const bidi = read(`  name = ${printString('evil\u202Egpj.exe')}`);
  expect(bidi.codes).toEqual([]);
  expect(bidi.values.get('name')).toBe('evil\u202Egpj.exe');
});

test.each([
  ['an unknown escape', '"a\\qb"', 'string-escape', 2, '\\q is not an escape the language has'],
  ['a \\u without braces', '"\\u0000"', 'string-escape', 1, '\\u is not a Unicode character'],
  ['a \\u{} past 10FFFF', '"\\u{110000}"', 'string-escape', 1, '\\u{110000} is not a Unicode character'],
  ['a bidi override as written', '"evil\u202Egpj.exe"', 'hidden-character', 5, 'U+202E'],
  ['a zero-width space as written', '"a\u200Bb"', 'hidden-character', 2, 'U+200B'],
  ['an escape character as written', '"\u001b[31m"', 'hidden-character', 1, 'U+001B'],
  ['U+FFFF, which XML cannot hold', '"a\\u{FFFF}b"', 'string-control-character', 0, 'U+FFFF, which no domain XML can hold'],
  ['a soft hyphen as written', '"/tmp/\u00ADhs.live"', 'hidden-character', 6, 'U+00AD'],
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
