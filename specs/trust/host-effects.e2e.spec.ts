/**
 * What QEMU itself holds on the host, asked over QMP of a machine started paused, is in the
 * host effects machinec lists: every block node's file and every chardev of the machine's
 * devices. Not yet every sample: their disk images would have to exist.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile, describeHostEffect, emit, hostEffects } from '../../compiler/index.js';
import { withQemu } from '../../cli/qemu/index.js';
import { QEMU, qemuDescribe } from '../support/qemu.js';

const T = 60_000;

qemuDescribe('host effects against QEMU over QMP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'machinec-host-effects-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the block nodes and chardevs QEMU holds are all listed', async () => {
    const image = join(dir, 'd.img');
    writeFileSync(image, Buffer.alloc(1024 * 1024));
    const log = join(dir, 'port.log');
    const display = 40 + (process.pid % 50);
    const source = [
      'machine he {',
      `  device disk0: virtio-blk-pci { file = ${JSON.stringify(image)}, format = raw }`,
      '  device vs: virtio-serial-pci {',
      `    device p0: virtserialport { chardev = file { path = ${JSON.stringify(log)} } }`,
      '  }',
      `  display = vnc { listen = "127.0.0.1:${display}" }`,
      '}',
      '',
    ].join('\n');
    const c = compile({ file: 'he.machine', source });
    expect(c.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const listed = hostEffects(c.machine!).map(describeHostEffect).join('\n');
    const argv = emit(c.spec!, c.machine!, { standIns: { fileExists: () => true, resolveFile: (p) => p } });
    const held = await withQemu({ qemu: QEMU, args: argv, paused: true }, async ({ qmp }) => {
      const nodes = await qmp.execute<{ 'node-name': string; file: string }[]>('query-named-block-nodes');
      const chardevs = await qmp.execute<{ label: string; filename: string }[]>('query-chardev');
      const vnc = await qmp.execute<{ enabled: boolean; host?: string; service?: string }>('query-vnc');
      return { nodes, chardevs: chardevs.filter((ch) => ch.label.startsWith('chr-')), vnc };
    });
    expect(held.nodes.length).toBeGreaterThan(0);
    for (const n of held.nodes) expect(listed).toContain(n.file);
    expect(held.chardevs.length).toBeGreaterThan(0);
    for (const ch of held.chardevs) {
      expect(listed).toContain(`[-chardev ${ch.label} (`);
      // QEMU 7.2 says "null" for a file chardev's filename; where it says more, the plan says the same place.
      if (ch.filename !== 'null') expect(listed).toContain(ch.filename.replace(/^\w+:/, '').replace(/,.*$/, ''));
    }
    // The launcher's own `-display none` comes after the machine's -vnc and turns VNC off; when QEMU listens, the plan says where.
    if (held.vnc.enabled) expect(listed).toContain(`listens on ${held.vnc.host}:${Number(held.vnc.service) - 5900} (VNC)`);
    expect(listed).toContain(`listens on 127.0.0.1:${display} (VNC), no password`);
  }, T);
});
