/**
 * Renaming a device of every model that owns a backend (every catalog row with a `backend`: NICs,
 * disks, CD-ROMs, serial ports, audio codecs, 9p shares, TPMs), as a user does it: `machinec rename`
 * on a built machine, then `machinec build --locked` on the result, and the editor's rename through
 * `machinec lsp`. The renamed machine must build to the same QEMU command line but for the ids,
 * by a rule of this spec's own (every id token under the new name), `machinec diff` of the two
 * locks must show a rename and nothing else, and the editor must propose the same source and lock
 * as the CLI writes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cleanScratch, ensureBin, Q, read, runCli, scratch } from '../cli/harness.js';
import { applyTextEdits, LspClient, positionOf, type TextEdit } from './lsp-client.js';
import { folder, FROM, machineFor, MODELS, TO } from './models.js';

/**
 * The rule a rename must follow, independent of machinec's own naming code: in every option
 * value, each `key=value` part whose value is the old id, `<prefix>-<old id>` or a bus `<old id>.N`
 * names the device, and is under the new id after the rename. What the guest reads stays, though
 * it was the old id: a disk's `serial` (the lock pins it) and a 9p share's `mount_tag` (what the
 * guest mounts; the rename writes it into the source).
 */
const GUEST_VALUES = new Set(['serial=', 'mount_tag=']);

function renamedByRule(argv: readonly string[]): string[] {
  const ID = new RegExp(`^((?:[a-z]+-)?)${FROM}((?:\\.\\d+)?)$`);
  return argv.map((arg) =>
    arg
      .split(',')
      .map((part) => {
        const eq = part.indexOf('=');
        const [key, value] = eq < 0 ? ['', part] : [part.slice(0, eq + 1), part.slice(eq + 1)];
        if (GUEST_VALUES.has(key)) return part;
        const m = ID.exec(value);
        return m ? `${key}${m[1]}${TO}${m[2]}` : part;
      })
      .join(','),
  );
}

async function argvOf(dir: string): Promise<string[]> {
  const r = await runCli(['build', '--locked', '--format', 'json', 'm.machine', ...Q], dir);
  if (r.code !== 0) throw new Error(`build --locked failed in ${dir}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

describe('rename of every model that owns a backend', () => {
  let root: string;
  let lsp: LspClient;
  beforeAll(async () => {
    ensureBin();
    root = scratch({}, 'machinec-rename-models-');
    lsp = await LspClient.start(root);
  }, 60_000);
  afterAll(async () => {
    await lsp.stop();
    cleanScratch();
  });

  test('the catalog has the models this spec is about', () => {
    const models = MODELS.map((m) => m.model);
    const named = ['tpm-crb', 'tpm-tis', 'virtio-9p-pci', 'virtserialport', 'nvme', 'hda-duplex', 'e1000', 'virtio-net-pci', 'virtio-blk-pci', 'ide-cd'];
    for (const m of named) expect(models).toContain(m);
  });

  test.each(MODELS.map((m) => [m.model, m] as const))('renames a %s in source, lock and editor', async (model, { spec }) => {
    const source = machineFor(model, spec);
    const cli = folder(root, `cli-${model}`, source);
    const built = await runCli(['build', 'm.machine', ...Q], cli);
    expect(built.code).toBe(0);
    const before = await argvOf(cli);
    const lockBefore = read(cli, 'm.machine.lock');
    const editor = folder(root, `lsp-${model}`, source, join(cli, 'm.machine.lock'));

    // (a) the CLI renames and exits 0.
    const renamed = await runCli(['rename', 'm.machine', FROM, TO], cli);
    expect(renamed.stderr).toMatch(new RegExp(`^renamed ${FROM} to ${TO} in m.machine and m.machine.lock`));
    expect(renamed.code).toBe(0);

    // (b) the renamed pair builds, lock unchanged, to the old command line under the new ids.
    const after = await argvOf(cli);
    expect(after).toEqual(renamedByRule(before));
    expect(after).not.toEqual(before);
    expect(read(cli, 'm.machine.lock')).not.toEqual(lockBefore);

    // The review sees a rename only: `machinec diff` of the two locks exits 0, no QEMU option listed.
    writeFileSync(join(cli, 'before.lock'), lockBefore);
    const diff = await runCli(['diff', 'before.lock', 'm.machine.lock'], cli);
    expect(diff.stdout).toContain(`~ ${FROM} renamed ${TO}, stays at `);
    expect(diff.stdout).not.toContain('option');
    expect(diff.code).toBe(0);

    // (c) the editor's rename proposes the source and lock the CLI wrote.
    const uri = pathToFileURL(join(editor, 'm.machine')).href;
    await lsp.open(uri, source);
    const position = positionOf(source, `${FROM}:`, 1);
    const edit = await lsp.request<{ changes: Record<string, TextEdit[]> }>('textDocument/rename', { textDocument: { uri }, position, newName: TO });
    expect(applyTextEdits(source, edit.changes[uri])).toBe(read(cli, 'm.machine'));
    expect(applyTextEdits(lockBefore, edit.changes[`${uri}.lock`])).toBe(read(cli, 'm.machine.lock'));
  }, 60_000);
});
