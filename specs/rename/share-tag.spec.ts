/**
 * A 9p share's mount tag is what the guest mounts (`mount -t 9p -o trans=virtio TAG /mnt`) and
 * defaults to the device's id: renaming the device writes `tag = "OLD"` into its body, however the
 * body is written, so the renamed machine hands QEMU the same mount_tag. Checked on the argv the
 * renamed source builds to and with the formatter, which must read the edited source.
 */
import * as prettier from 'prettier';
import { compile, renameDevice } from '../../compiler/index.js';
import plugin from '../../prettier-plugin/index.js';

const wrap = (device: string): string => `machine m {\n  chipset = q35\n${device}}\n`;

function rename(source: string, from = 'share', to = 'www') {
  const built = compile({ file: 'm.machine', source });
  expect(built.diagnostics.map((d) => d.message)).toEqual([]);
  const r = renameDevice({ file: 'm.machine', source, lockFile: 'm.machine.lock', built, from, to });
  if (!r.ok) throw new Error(`${r.message}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return r;
}

const mountTags = (source: string, lock: string): string[] =>
  compile({ file: 'm.machine', source, lock: { file: 'm.machine.lock', text: lock } }).argv!.flatMap((a) => /(?:^|,)mount_tag=([^,]+)/.exec(a)?.[1] ?? []);

describe('renaming a 9p share keeps its mount tag', () => {
  test.each([
    ['one line', '  device share: virtio-9p-pci { path = "." }\n', '  device www: virtio-9p-pci { path = ".", tag = "share" }\n'],
    [
      'a body over lines',
      '  device share: virtio-9p-pci {\n    path = "."\n    readonly = true\n  }\n',
      '  device www: virtio-9p-pci {\n    path = "."\n    readonly = true\n    tag = "share"\n  }\n',
    ],
    [
      'a comment after the last property',
      '  device share: virtio-9p-pci {\n    path = "." // the project\n  }\n',
      '  device www: virtio-9p-pci {\n    path = "." // the project\n    tag = "share"\n  }\n',
    ],
    [
      'CRLF line ends',
      '  device share: virtio-9p-pci {\r\n    path = "."\r\n  }\r\n',
      '  device www: virtio-9p-pci {\r\n    path = "."\r\n    tag = "share"\r\n  }\r\n',
    ],
  ])('%s', async (_what, device, renamed) => {
    const source = wrap(device);
    const r = rename(source);
    expect(r.source).toBe(wrap(renamed));
    expect(r.kept).toEqual(['tag = "share"']);
    expect(mountTags(r.source, r.lock)).toEqual(['share']);
    await expect(prettier.format(r.source, { parser: 'machine', plugins: [plugin] })).resolves.toContain('tag = "share"');
  });

  test('a tag the source sets is left as it is', () => {
    const source = wrap('  device share: virtio-9p-pci { path = ".", tag = "data" }\n');
    const r = rename(source);
    expect(r.source).toBe(source.replace('share:', 'www:'));
    expect(r.kept).toEqual([]);
    expect(mountTags(r.source, r.lock)).toEqual(['data']);
  });

  test('what the written tag keeps: with the id alone renamed, the guest would mount the share under the new id', () => {
    const source = wrap('  device share: virtio-9p-pci { path = "." }\n');
    const r = rename(source);
    const idOnly = source.replace('share:', 'www:');
    const check = compile({ file: 'm.machine', source: idOnly, lock: { file: 'm.machine.lock', text: r.lock } });
    expect(check.lockText).not.toBe(r.lock);
    expect(mountTags(idOnly, r.lock)).toEqual(['www']);
  });
});
