/**
 * Property tests for the prettier plugin over generated programs, written messily: random
 * whitespace (spaces, tabs, LF, CRLF, blank runs), optional commas, and line and block comments
 * between any two tokens. For every program x:
 *   - formatting is idempotent: format(format(x)) = format(x);
 *   - every comment survives: the multiset of comment texts is unchanged;
 *   - the meaning is unchanged: the ASTs of x and format(x), spans and comments stripped, are
 *     equal, and `compile()` gives the same result (argv, lock, diagnostics) for both.
 */
import fc from 'fast-check';
import * as prettier from 'prettier';
import { compile } from '../compiler/index.js';
import { parse } from '../grammar/index.js';
import plugin from '../prettier-plugin/index.js';

const format = (text: string, options: prettier.Options = {}): Promise<string> =>
  prettier.format(text, { ...options, parser: 'machine', plugins: [plugin] });

// ---------------------------------------------------------------------------------------------
// Programs as token lists: a token is source text; separators are chosen when rendering.

type Tokens = string[];

const identifier = fc.constantFrom('user', 'q35', 'pc', 'virtio-net-pci', 'e1000', 'qemu-xhci', 'usb-tablet', 'v1.2+rc', 'a_b', 'tap0', 'qcow2', 'devices');
const key = fc.constantFrom('chipset', 'memory', 'cpus', 'netdev', 'file', 'format', 'ifname', 'mac', 'x-opt', 'boot.order', 'machinery');
const model = fc.constantFrom('e1000', 'rtl8139', 'virtio-net-pci', 'virtio-blk-pci', 'qemu-xhci', 'usb-tablet', 'pci-bridge', 'VGA', 'no-such-model');
const deviceId = fc.constantFrom('nic0', 'nic1', 'disk0', 'usb', 'tablet', 'br0', 'video', 'd-1');
const address = fc.constantFrom('05.0', '1e.0', '00.3', '1f.7');
const stringLiteral = fc.constantFrom('"x"', '""', '"say \\"hi\\""', '"a\\nb\\tc"', '"C:\\\\vm"', '"/* not */ // a comment"', '"tap0"', '"office.qcow2"');
const integer = fc.constantFrom('0', '2', '42', '007', '0x1F', '0xdeadbeef');
const size = fc.constantFrom('512M', '4G', '64KiB', '1b', '2GB', '1024m');
const boolean = fc.constantFrom('true', 'false');
const comma = fc.constantFrom<Tokens>([], [','], []);

const { value } = fc.letrec<{ value: Tokens; list: Tokens; block: Tokens; property: Tokens }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    identifier.map((t) => [t]),
    stringLiteral.map((t) => [t]),
    integer.map((t) => [t]),
    size.map((t) => [t]),
    boolean.map((t) => [t]),
    tie('list'),
    tie('block'),
  ),
  list: fc
    .array(fc.tuple(tie('value'), comma), { maxLength: 5 })
    .map((items) => ['[', ...items.flatMap(([v, c]) => [...v, ...c]), ']']),
  block: fc
    .tuple(identifier, fc.array(fc.tuple(tie('property'), comma), { maxLength: 3 }))
    .map(([type, props]) => [type, '{', ...props.flatMap(([p, c]) => [...p, ...c]), '}']),
  property: fc.tuple(key, tie('value')).map(([k, v]) => [k, '=', ...v]),
}));

const property = fc.tuple(key, value).map(([k, v]) => [k, '=', ...v]);

const { member } = fc.letrec<{ member: Tokens; device: Tokens }>((tie) => ({
  member: fc.oneof({ depthSize: 'small', withCrossShrink: true }, property, tie('device')),
  device: fc
    .tuple(
      deviceId,
      model,
      fc.option(address, { nil: undefined }),
      fc.option(fc.array(fc.tuple(tie('member'), comma), { maxLength: 4 }), { nil: undefined }),
    )
    .map(([id, m, addr, body]) => [
      'device',
      id,
      ':',
      m,
      ...(addr ? ['@', addr] : []),
      ...(body ? ['{', ...body.flatMap(([b, c]) => [...b, ...c]), '}'] : []),
    ]),
}));

const program = fc
  .tuple(fc.constantFrom('office', 'm', 'lab-1'), fc.array(fc.tuple(member, comma), { maxLength: 8 }))
  .map(([name, members]) => ['machine', name, '{', ...members.flatMap(([m, c]) => [...m, ...c]), '}']);

// ---------------------------------------------------------------------------------------------
// Separators: whitespace and comments. A line comment always ends its line.

const commentText = fc.stringMatching(/^[a-z0-9 {}[\]=",@:.\-]{0,12}$/);
const comment = fc.oneof(
  commentText.map((t) => `// ${t}\n`),
  commentText.map((t) => `/* ${t} */`),
  fc.tuple(commentText, commentText, fc.constantFrom('\n', '\r\n', '\n   ')).map(([a, b, nl]) => `/* ${a}${nl}${b} */`),
  fc.constant('/**/'),
  fc.constant('//\n'),
);
const space = fc.constantFrom(' ', '  ', '\t', '\n', '\n\n', '\n\n\n', '\r\n', '\r\n\r\n', '');
const separator = fc
  .array(fc.oneof({ weight: 4, arbitrary: space }, { weight: 1, arbitrary: comment }), { maxLength: 3 })
  .map((parts) => parts.join(''));

/** Interleaves the tokens with separators; two tokens that would fuse get a space. */
function render(tokens: Tokens, separators: string[]): string {
  const word = /[A-Za-z0-9_"+.-]/;
  let out = separators[0] ?? '';
  tokens.forEach((tok, i) => {
    let sep = separators[i + 1] ?? '';
    const next = tokens[i + 1];
    if (sep === '' && next !== undefined && word.test(tok.at(-1)!) && word.test(next[0])) sep = ' ';
    out += tok + sep;
  });
  return out;
}

const messyProgram = program.chain((tokens) =>
  fc.array(separator, { minLength: tokens.length + 1, maxLength: tokens.length + 1 }).map((seps) => render(tokens, seps)),
);

// ---------------------------------------------------------------------------------------------
// What must not change.

/** The AST without spans and comments: what the program means. */
function meaning(text: string): unknown {
  const { ast, diagnostics } = parse(text, 'x.machine');
  expect(diagnostics).toEqual([]);
  return JSON.parse(JSON.stringify(ast.machine, (k, v) => (k === 'span' ? undefined : v)));
}

/** Comment texts as a sorted list. prettier works on LF text and drops trailing blanks of line comments. */
function commentTexts(text: string): string[] {
  return parse(text, 'x.machine')
    .ast.comments.map((c) => (c.block ? c.text.replace(/\r\n?/g, '\n') : c.text.trimEnd()))
    .sort();
}

/** What the compiler makes of a program, positions aside. */
function compiled(text: string): unknown {
  const r = compile({ file: 'x.machine', source: text });
  return { ok: r.ok, argv: r.argv, lockText: r.lockText, diagnostics: r.diagnostics.map((d) => `${d.severity}[${d.code}] ${d.message}`) };
}

const runs = { numRuns: Number(process.env.FC_RUNS ?? 300) };

describe('formatting generated programs', () => {
  it('generates programs that parse', () => {
    fc.assert(fc.property(messyProgram, (x) => expect(parse(x, 'x.machine').diagnostics).toEqual([])), runs);
  });

  it('is idempotent', async () => {
    await fc.assert(
      fc.asyncProperty(messyProgram, async (x) => {
        const once = await format(x);
        expect(await format(once)).toBe(once);
      }),
      runs,
    );
  });

  it('is idempotent at other widths and indents too', async () => {
    const options = fc.record({ printWidth: fc.integer({ min: 10, max: 120 }), tabWidth: fc.constantFrom(2, 4), useTabs: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(messyProgram, options, async (x, opts) => {
        const once = await format(x, opts);
        expect(await format(once, opts)).toBe(once);
      }),
      runs,
    );
  });

  it('keeps every comment', async () => {
    await fc.assert(
      fc.asyncProperty(messyProgram, async (x) => {
        expect(commentTexts(await format(x))).toEqual(commentTexts(x));
      }),
      runs,
    );
  });

  it('keeps the meaning: same AST, spans and comments aside', async () => {
    await fc.assert(
      fc.asyncProperty(messyProgram, async (x) => {
        expect(meaning(await format(x))).toEqual(meaning(x));
      }),
      runs,
    );
  });

  it('keeps the meaning: same compilation', async () => {
    await fc.assert(
      fc.asyncProperty(messyProgram, async (x) => {
        expect(compiled(await format(x))).toEqual(compiled(x));
      }),
      runs,
    );
  });

  it('prints LF only and ends with one newline', async () => {
    await fc.assert(
      fc.asyncProperty(messyProgram, async (x) => {
        const out = await format(x);
        expect(out).not.toContain('\r');
        expect(out).toMatch(/[^\n]\n$/);
      }),
      runs,
    );
  });
});
