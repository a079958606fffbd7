/** Reads everything `machinec import` needs from a running QEMU over QMP. */
import type { QmpClient } from '../qemu/qmp.js';
import { flattenQueryPci, type QmpPciBus } from '../qemu/guest-view.js';
import type { Backends, Inspection } from './adopt.js';
import type { BlockBackend, NetBackend } from './qemu-syntax.js';
import { parseQtree } from './qtree.js';

const hmp = (qmp: QmpClient, command: string) => qmp.execute<string>('human-monitor-command', { 'command-line': command });

async function children(qmp: QmpClient, path: string): Promise<{ name: string; type: string }[]> {
  try {
    const list = await qmp.execute<{ name: string; type: string }[]>('qom-list', { path });
    return list.filter((c) => c.type.startsWith('child<')).map((c) => ({ name: c.name, type: c.type.slice(6, -1) }));
  } catch {
    return [];
  }
}

/** The machine as the running QEMU has it. The caller has let the firmware number the buses. */
export async function inspect(qmp: QmpClient): Promise<Inspection> {
  const qtree = parseQtree(await hmp(qmp, 'info qtree'));
  const guest = flattenQueryPci(await qmp.execute<QmpPciBus[]>('query-pci'));
  const type = await qmp.execute<string>('qom-get', { path: '/machine', property: 'type' });
  const memory = await qmp.execute<{ 'base-memory': number }>('query-memory-size-summary');
  const cpus = await qmp.execute<unknown[]>('query-cpus-fast');
  const uuid = await qmp.execute<{ UUID: string }>('query-uuid');
  const peripheral = new Map((await children(qmp, '/machine/peripheral')).map((c) => [c.name, c.type]));
  const peripheralAnon = (await children(qmp, '/machine/peripheral-anon')).map((c) => c.type);
  const smp = await qmp.execute<{ sockets: number; dies: number; cores: number; threads: number }>('qom-get', { path: '/machine', property: 'smp' }).catch(() => undefined);
  const hasGenid = [...peripheral.values(), ...peripheralAnon].includes('vmgenid');
  const vmgenid = hasGenid ? (await qmp.execute<{ guid: string }>('query-vm-generation-id')).guid.toLowerCase() : undefined;
  return {
    smp: smp && { sockets: smp.sockets, dies: smp.dies, cores: smp.cores, threads: smp.threads },
    vmgenid,
    qtree,
    guest,
    machineType: type.replace(/-machine$/, ''),
    memoryBytes: memory['base-memory'],
    cpus: cpus.length,
    uuid: uuid.UUID.toLowerCase(),
    peripheral,
    peripheralAnon,
  };
}

/** `info network`: netdevs by name with their type and options, and hubs with their ports' peers. */
export function parseInfoNetwork(text: string): { byName: Map<string, NetBackend>; hubs: Map<string, { port: string; peer: string }[]> } {
  const byName = new Map<string, NetBackend>();
  const hubs = new Map<string, { port: string; peer: string }[]>();
  const parse = (info: string): NetBackend => {
    const pairs = info.split(',').map((p) => {
      const eq = p.indexOf('=');
      return (eq < 0 ? [p, ''] : [p.slice(0, eq), p.slice(eq + 1)]) as [string, string];
    });
    const type = pairs.find(([k]) => k === 'type')?.[1] ?? '';
    const drop = new Set(['index', 'type', 'net', 'restrict', 'model', 'macaddr', 'fd', 'vhost']);
    const options = pairs.filter(([k, v]) => !drop.has(k) && !(k === 'script' && v === '/etc/qemu-ifup') && !(k === 'downscript' && v === '/etc/qemu-ifdown'));
    return { type, options };
  };
  let hub: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const h = /^hub (\d+)$/.exec(raw.trim());
    if (h) {
      hub = h[1];
      hubs.set(hub, []);
      continue;
    }
    const port = /^\s*\\ (hub\d+port\d+): (\S+): (.*)$/.exec(raw);
    if (port && hub !== undefined) {
      byName.set(port[1], { type: 'hubport', options: [] });
      byName.set(port[2], parse(port[3]));
      hubs.get(hub)!.push({ port: port[1], peer: port[2] });
      continue;
    }
    const line = /^\s*(?:\\ )?(\S+): (index=.*)$/.exec(raw);
    if (line) {
      if (!raw.startsWith(' ')) hub = undefined;
      byName.set(line[1], parse(line[2]));
    }
  }
  return { byName, hubs };
}

/** Backends of a running VM, as far as QMP tells them. */
export async function qmpBackends(qmp: QmpClient): Promise<Backends> {
  const network = parseInfoNetwork(await hmp(qmp, 'info network'));
  const blocks = await qmp.execute<{ device: string; qdev?: string; inserted?: { file: string; drv: string; ro: boolean; 'node-name'?: string; image?: { filename: string; format: string } } }[]>('query-block');
  const nodes = await qmp.execute<{ 'node-name': string; drv: string; file: string; ro: boolean; image?: { filename: string } }[]>('query-named-block-nodes');
  const PROTOCOLS = new Set(['file', 'host_device', 'host_cdrom']);
  const fromInserted = (i: { file: string; drv: string; ro: boolean; image?: { filename: string } }): BlockBackend => ({
    file: i.drv === 'null-co' ? undefined : i.image?.filename ?? i.file,
    format: i.drv === 'null-co' ? undefined : PROTOCOLS.has(i.drv) ? 'raw' : i.drv,
    readonly: i.ro || undefined,
  });
  return {
    net(name) {
      const direct = network.byName.get(name);
      if (direct?.type === 'hubport') {
        for (const ports of network.hubs.values()) {
          if (!ports.some((p) => p.port === name)) continue;
          return ports.map((p) => network.byName.get(p.peer)!).find((p) => p && p.type !== 'nic');
        }
        return undefined;
      }
      return direct;
    },
    block(name) {
      const b = blocks.find((x) => x.device === name || x.inserted?.['node-name'] === name);
      if (b) return b.inserted ? fromInserted(b.inserted) : {};
      const n = nodes.find((x) => x['node-name'] === name);
      return n ? fromInserted(n) : undefined;
    },
    chardev: () => undefined,
  };
}
