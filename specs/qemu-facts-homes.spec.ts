/**
 * Every QEMU fact has one home, and the tree is grepped for strays: grammar/, compiler/, cli/,
 * prettier-plugin/ and tools/ are read with TypeScript's parser, so comments never count and
 * only code (string, template and regexp literals, comparisons, object and array literals) does.
 *
 * - A chipset is a record (compiler/chipsets.ts): nowhere else is its name a literal (`'q35'`,
 *   `'pc'`, as a value or a type), compared with a `chipset`, matched by a regexp, or the key of
 *   a table of per-chipset facts; and no versioned machine type (`pc-q35-7.2`) is a literal.
 *   Words in user-facing sentences ("set chipset = q35") are not literals of their own, so they
 *   need no allow-list.
 * - The TPM models come from the catalog's `backend: 'tpm'` (compiler/catalog.ts): no other file
 *   names one, in code or in a message.
 * - The QEMU binary is named by the chipset records only.
 * - The child-key pins (`port`, `scsi-id`, `unit`, `nr`, `cad` by attachment) and "virtio is
 *   modern-only behind a root port" live in compiler/qemu-facts.ts.
 * - Option values have their commas doubled by escapeOptionValue only (compiler/emit.ts, and the
 *   files being replaced by the typed QEMU model, which keep their copies until then).
 * - The device-id rule (`[A-Za-z][A-Za-z0-9_.-]*`) lives in grammar/ids.ts.
 *
 * The names come from QEMU, not from the code under test: its machine aliases, its TPM device
 * models and its system-emulator binaries, joined with what the records and the catalog list.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { catalog } from '../compiler/catalog.js';
import { chipsets } from '../compiler/chipsets.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIRS = ['grammar', 'compiler', 'cli', 'prettier-plugin', 'tools'];

/** Machine aliases of QEMU's x86 and Arm system emulators (`-machine help`), and the records' names. */
const CHIPSET_NAMES = new Set(['pc', 'q35', 'isapc', 'microvm', 'virt', ...Object.keys(chipsets)]);
/** QEMU's TPM device models (`-device help`, category Misc), and the catalog's. */
const TPM_MODELS = new Set(['tpm-crb', 'tpm-tis', 'tpm-tis-device', 'tpm-spapr', ...Object.keys(catalog).filter((m) => catalog[m].backend === 'tpm')]);
/** QEMU's system emulators, and the records' binaries. */
const BINARIES = new Set(['qemu-system-x86_64', 'qemu-system-i386', 'qemu-system-aarch64', 'qemu-system-arm', ...Object.values(chipsets).map((c) => c.qemuBinary)]);
/** Which pin places a device on each kind of child bus (QEMU's property names). */
const CHILD_KEYS: Readonly<Record<string, string>> = { usb: 'port', scsi: 'scsi-id', ide: 'unit', 'virtio-serial': 'nr', hda: 'cad' };
const VERSIONED_TYPE = /^pc-(?:q35-|i440fx-)?\d+\.\d+$/;
/** The device-id rule: a letter, then letters, digits, `_`, `.` and `-` (in any spelling of the class). */
const ID_RULE = /\[(?:A-Za-z|a-zA-Z)\]\[(?:A-Za-z0-9_.-|a-zA-Z0-9_.-|\\w.-)\]\*/;

type Rule = 'chipset' | 'tpm' | 'binary' | 'child-keys' | 'modern-virtio' | 'commas' | 'device-id';

/** Each rule's home: the files where its literals are the data. */
const HOMES: Readonly<Record<Rule, readonly string[]>> = {
  chipset: ['compiler/chipsets.ts'],
  tpm: ['compiler/catalog.ts'],
  binary: ['compiler/chipsets.ts'],
  'child-keys': ['compiler/qemu-facts.ts'],
  'modern-virtio': ['compiler/qemu-facts.ts'],
  // escapeOptionValue's home, and the emitters the typed QEMU model replaces (they keep their copies until then).
  commas: ['compiler/emit.ts', 'compiler/vm-emit.ts', 'compiler/records.ts', 'compiler/export/libvirt-commandline.ts', 'compiler/qemu/'],
  // Allowed by path even before the file exists.
  'device-id': ['grammar/ids.ts'],
};

interface Stray {
  readonly rule: Rule;
  readonly where: string;
  readonly text: string;
}

function sourcesUnder(base: string, dir: string): string[] {
  return readdirSync(join(base, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourcesUnder(base, `${dir}/${e.name}`) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [`${dir}/${e.name}`] : [],
  );
}

/** The text a literal holds: strings, templates' pieces, regexps' sources. */
function literalText(node: ts.Node): string | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) return node.text;
  if (ts.isRegularExpressionLiteral(node)) return node.text;
  return undefined;
}

const propertyName = (p: ts.ObjectLiteralElementLike): string | undefined =>
  p.name && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) ? p.name.text : undefined;

const isChipsetExpression = (e: ts.Expression): boolean => (ts.isIdentifier(e) && e.text === 'chipset') || (ts.isPropertyAccessExpression(e) && e.name.text === 'chipset');

const EQUALITY = new Set([ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken, ts.SyntaxKind.EqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsToken]);

/** The rules a literal breaks by what it says. */
function literalStrays(node: ts.Node, text: string): Rule[] {
  const out: Rule[] = [];
  const regexp = ts.isRegularExpressionLiteral(node);
  const words = text.split(/[^A-Za-z0-9_.-]+/);
  if (!regexp && (CHIPSET_NAMES.has(text) || VERSIONED_TYPE.test(text))) out.push('chipset');
  if (regexp && /q35|i440fx/.test(text)) out.push('chipset');
  if (words.some((w) => TPM_MODELS.has(w))) out.push('tpm');
  if (words.some((w) => BINARIES.has(w))) out.push('binary');
  if (regexp && ID_RULE.test(text)) out.push('device-id');
  return out;
}

/** The rules a construct breaks by its shape: a chipset comparison, a per-chipset or child-key table, a comma doubling. */
function shapeStrays(node: ts.Node, source: ts.SourceFile): Rule[] {
  if (ts.isBinaryExpression(node) && EQUALITY.has(node.operatorToken.kind)) {
    const [a, b] = [node.left, node.right];
    if ((isChipsetExpression(a) && literalText(b) !== undefined) || (isChipsetExpression(b) && literalText(a) !== undefined)) return ['chipset'];
  }
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.BarBarToken) {
    const text = node.getText(source);
    if (text.includes("'pcie-root-port'") && text.includes("'disable-legacy'") && !ts.isBinaryExpression(node.parent)) return ['modern-virtio'];
  }
  if (ts.isObjectLiteralExpression(node)) {
    const names = node.properties.map(propertyName);
    if (names.filter((n) => n !== undefined && CHIPSET_NAMES.has(n)).length >= 2) return ['chipset'];
    const pins = node.properties.filter((p) => ts.isPropertyAssignment(p) && CHILD_KEYS[propertyName(p) ?? ''] !== undefined && p.initializer.getText(source).includes(`'${CHILD_KEYS[propertyName(p)!]}'`));
    if (pins.length >= 3) return ['child-keys'];
  }
  if (ts.isArrayLiteralExpression(node)) {
    const pins = new Set(Object.values(CHILD_KEYS));
    if (node.elements.length >= 3 && node.elements.every((e) => ts.isStringLiteral(e) && pins.has(e.text))) return ['child-keys'];
  }
  if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && /^replace(All)?$/.test(node.expression.name.text)) {
    const [, by] = node.arguments;
    if (by && ts.isStringLiteral(by) && by.text === ',,') return ['commas'];
  }
  return [];
}

function straysIn(file: string, text: string): Stray[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const out: Stray[] = [];
  const add = (rule: Rule, node: ts.Node) => {
    if (HOMES[rule].some((home) => (home.endsWith('/') ? file.startsWith(home) : file === home))) return;
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    out.push({ rule, where: `${file}:${line}`, text: node.getText(source).slice(0, 120) });
  };
  const visit = (node: ts.Node): void => {
    const lit = literalText(node);
    if (lit !== undefined) for (const rule of literalStrays(node, lit)) add(rule, node);
    for (const rule of shapeStrays(node, source)) add(rule, node);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** Every stray in the tree at `base`, by rule. */
export function strays(base = root): Stray[] {
  return DIRS.flatMap((dir) => sourcesUnder(base, dir)).flatMap((file) => straysIn(file, readFileSync(join(base, file), 'utf8')));
}

const all = strays();
const of = (rule: Rule): string[] => all.filter((s) => s.rule === rule).map((s) => `${s.where}: ${s.text}`);

describe('every QEMU fact in one home', () => {
  test('a chipset is a record: no name, machine type, comparison or per-chipset table outside compiler/chipsets.ts', () => {
    expect(of('chipset')).toEqual([]);
  });
  test("the TPM models come from the catalog's tpm backend only", () => {
    expect(of('tpm')).toEqual([]);
  });
  test('the QEMU binary is named by the chipset records only', () => {
    expect(of('binary')).toEqual([]);
  });
  test('the child-key pins and modern virtio behind a root port live in compiler/qemu-facts.ts', () => {
    expect([...of('child-keys'), ...of('modern-virtio')]).toEqual([]);
  });
  test('option values have their commas doubled by escapeOptionValue', () => {
    expect(of('commas')).toEqual([]);
  });
  test('the device-id rule lives in grammar/ids.ts', () => {
    expect(of('device-id')).toEqual([]);
  });
});

describe('the rules catch what they are for', () => {
  const planted = (text: string): Rule[] => straysIn('compiler/planted.ts', text).map((s) => s.rule);
  test.each<[string, Rule]>([
    ["if (m.chipset === 'q35') f();", 'chipset'],
    ["const c: 'pc' | 'virt' = x;", 'chipset'],
    ["const t = 'pc-i440fx-7.2';", 'chipset'],
    ['const c = /q35/.test(machine);', 'chipset'],
    ['const MAX = { pc: 255, q35: 288 };', 'chipset'],
    ["const tpm = d.model === 'tpm-crb';", 'tpm'],
    ['const hint = `add a tpm-tis device`;', 'tpm'],
    ["const q = 'qemu-system-x86_64';", 'binary'],
    ["const k = { usb: 'port', scsi: 'scsi-id', ide: 'unit' };", 'child-keys'],
    ["const key = ['port', 'scsi-id', 'unit', 'nr', 'cad'].find((k) => k in pins);", 'child-keys'],
    ["const modern = p?.model === 'pcie-root-port' || d.pins['disable-legacy'] === 'on';", 'modern-virtio'],
    ["const esc = (v: string) => v.replace(/,/g, ',,');", 'commas'],
    ['const ID = /^[A-Za-z][A-Za-z0-9_.-]*$/;', 'device-id'],
  ])('%s', (code, rule) => {
    expect(planted(code)).toContain(rule);
  });
  test('comments, sentences and comparisons of two chipsets are not strays', () => {
    expect(planted("// chipset === 'q35'\nconst hint = 'use pci-bridge on pc, or set chipset = q35';\nif (a.chipset !== b.chipset) f();")).toEqual([]);
  });
});
