/**
 * The editor API (compiler/editor.ts) and the language server's re-parse (grammar/reparse.ts):
 * a re-parse after any one-character edit gives exactly the tree a full parse gives.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, completionsAt, deviceIdAt, hoverAt, quickFix } from '../compiler/index.js';
import { parse, reparse } from '../grammar/index.js';

const samples = readdirSync('samples').filter((f) => f.endsWith('.machine')).map((f) => readFileSync(join('samples', f), 'utf8'));
const office = readFileSync('samples/office.machine', 'utf8');
const officeLock = readFileSync('samples/office.machine.lock', 'utf8');

describe('reparse', () => {
  it.each(samples.map((s, i) => [i, s]))('sample %i: one-character insertions and deletions all over it re-parse to what parse gives', (_i, text) => {
    const previous = { text, result: parse(text, 'f.machine') };
    let reused = 0;
    // About 400 edit points a sample (a broken file's parse recovers slowly): every one, or every other.
    const step = Math.max(1, Math.floor(text.length / 400));
    for (let at = 0; at <= text.length; at += step) {
      const edited = [text.slice(0, at) + 'x' + text.slice(at), text.slice(0, at) + '1' + text.slice(at), text.slice(0, at) + text.slice(at + 1)][at % 3];
      const r = reparse(previous, edited, 'f.machine');
      const full = parse(edited, 'f.machine');
      // Compared as JSON first: toEqual on every tree is slow; on a difference it shows it.
      if (JSON.stringify(r) !== JSON.stringify(full)) expect({ at, tree: r }).toEqual({ at, tree: full });
      if (r.ast.machine?.members.some((m, k) => m === previous.result.ast.machine?.members[k])) reused++;
    }
    expect(reused).toBeGreaterThan(text.length / step / 4); // edits past the first member re-use the members before them
  });

  it('an edit in a nested device parses only that device, and keeps its siblings', () => {
    const text = 'machine m {\n  device s: virtio-scsi-pci {\n    device a: scsi-hd { file = "a" }\n    device b: scsi-hd { file = "b" }\n  }\n}\n';
    const previous = { text, result: parse(text, 'f') };
    const edited = text.replace('"b"', '"bb"');
    const r = reparse(previous, edited, 'f');
    expect(r).toEqual(parse(edited, 'f'));
    expect(r.ast.machine!.devices[0].devices[0]).toBe(previous.result.ast.machine!.devices[0].devices[0]);
  });

  it('an edit that nests past the limit gets the too-deep error a full parse gives', () => {
    const depth = (n: number, inner: string) => '  x = ' + '['.repeat(n) + inner + ']'.repeat(n) + '\n';
    const text = 'machine m {\n  device s: qemu-xhci {\n  ' + depth(62, '1') + '  }\n}\n';
    const previous = { text, result: parse(text, 'f') };
    expect(previous.result.diagnostics).toEqual([]);
    const edited = text.replace('[1]', '[[1]]');
    expect(reparse(previous, edited, 'f').diagnostics.map((d) => d.code)).toEqual(['too-deep']);
  });

  it('a tree with errors, or an edit between members, parses the whole text', () => {
    const broken = 'machine m {\n  device a: VGA {\n}\n';
    expect(reparse({ text: broken, result: parse(broken, 'f') }, broken + ' ', 'f')).toEqual(parse(broken + ' ', 'f'));
    const two = 'machine m {\n  device a: VGA\n\n  device b: VGA\n}\n';
    const edited = two.replace('\n\n', '\n /* x */\n');
    expect(reparse({ text: two, result: parse(two, 'f') }, edited, 'f')).toEqual(parse(edited, 'f'));
  });
});

const labels = (text: string, offset: number, context = {}) => completionsAt(text, offset, context).items.map((c) => c.label);

describe('completion', () => {
  it('offers values for chipset, format, netdev and accel lists', () => {
    const text = 'machine m {\n  chipset = \n  accel = [kvm, ]\n  device d: virtio-blk-pci { format = q }\n  device n: e1000 { netdev = }\n}\n';
    expect(labels(text, text.indexOf('chipset = ') + 10)).toEqual(['pc', 'q35']);
    expect(labels(text, text.indexOf('kvm, ') + 5)).toEqual(['kvm', 'tcg']);
    expect(labels(text, text.indexOf('format = q') + 10)).toContain('qcow2');
    expect(completionsAt(text, text.indexOf('format = q') + 10).span).toEqual({ start: text.indexOf('format = q') + 9, end: text.indexOf('format = q') + 10 });
    expect(labels(text, text.indexOf('netdev = ') + 9)).toEqual(expect.arrayContaining(['user', 'tap', 'bridge', 'socket']));
  });

  it('offers machine properties and the device keyword at the top level, nothing in comments or strings', () => {
    const text = 'machine m {\n  \n  // a comment\n  device d: ide-hd { file = "x" }\n}\n';
    expect(labels(text, text.indexOf('\n  \n') + 3)).toEqual(expect.arrayContaining(['chipset', 'memory', 'cpus', 'device']));
    expect(labels(text, text.indexOf('a comment') + 2)).toEqual([]);
    expect(labels(text, text.indexOf('"x"') + 1)).toEqual([]);
  });

  it('offers the ids of locked devices the source no longer has where an id is written', () => {
    const text = office.replace('  device nic0: virtio-net-pci { netdev = user }\n', '  device \n');
    const c = compile({ file: 'office.machine', source: office, lock: { file: 'office.machine.lock', text: officeLock } });
    const items = completionsAt(text, text.indexOf('device \n') + 7, { locked: c.previous, ast: parse(text, 'f').ast }).items;
    expect(items.map((i) => [i.label, i.detail])).toEqual([['nic0', 'virtio-net-pci, locked at 01:00.0 (bus=rp1 addr=00.0)']]);
  });
});

describe('hover, definition and quick fixes', () => {
  it('describes a model, a property and a device the lock does not hold yet', () => {
    const text = 'machine m {\n  device n: e1000 { bootindex = 1, netdev = user }\n}\n';
    const c = compile({ file: 'm.machine', source: text });
    expect(hoverAt(text, text.indexOf('e1000') + 1)?.text).toMatch(/^\*\*e1000\*\*: conventional PCI/);
    expect(hoverAt(text, text.indexOf('bootindex'))?.text).toBe('**bootindex**: integer 0..1000\n\nboot order, lowest first');
    expect(hoverAt(text, text.indexOf(' n:') + 1, { placed: c.machine })?.text).toMatch(/^\*\*n\*\* \(e1000\): not locked yet; a build places it at 02:01\.0 \(bus=pcibr1 addr=01\.0\)/);
  });

  it('finds a device id where it is declared', () => {
    const ast = parse(office, 'f').ast;
    const at = office.indexOf('disk0');
    expect(deviceIdAt(ast, at + 2)).toEqual({ id: 'disk0', span: { start: at, end: at + 5 } });
    expect(deviceIdAt(ast, office.indexOf('memory'))).toBeUndefined();
  });

  it('turns a did-you-mean hint into an edit', () => {
    const c = compile({ file: 'm', source: 'machine m {\n  device n: virtio-net { netdev = user }\n}\n' });
    expect(c.diagnostics.map(quickFix)).toEqual([{ title: 'change to virtio-net-pci', span: c.diagnostics[0].span, newText: 'virtio-net-pci' }]);
  });
});
