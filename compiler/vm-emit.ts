/**
 * QEMU options for the VM-wide properties: -cpu, -smp topology, -smbios, the OVMF pflash pair,
 * the display, the serial console on ttyS0 (isa-serial), and the backends of the TPM and 9p
 * devices. Paths in the state folder are relative to the machine's folder, where QEMU runs.
 */
import type { Value } from '../grammar/index.js';
import { isTpmModel } from './catalog.js';
import type { MachineSpec } from './machine-spec.js';
import type { PlacedDevice, PlacedMachine } from './model.js';
import { backendId } from './qemu/backend-ids.js';
import { option, type QemuArg, type QemuBackend, type QemuProp } from './qemu/model.js';
import { NVRAM_FILE, TPM_SOCKET, topologyKeys } from './vm-schema.js';
import { blockProps, firmwareChoice, member, stateFolder, typeOf } from './vm.js';

const onOff = (v: Value | undefined, fallback: boolean): string => ((v?.kind === 'Boolean' ? v.value : fallback) ? 'on' : 'off');
const str = (v: Value | undefined): string | undefined => (v?.kind === 'String' ? v.value : undefined);

function flagValue(v: Value | undefined): string {
  if (v?.kind === 'Boolean') return v.value ? 'on' : 'off';
  if (v?.kind === 'Integer') return v.text;
  if (v?.kind === 'String') return v.value;
  return 'on';
}

/** Where the emitted command line keeps per-VM state: the machine's folder, or verify's throwaway one. */
export interface VmEmitOptions {
  readonly state?: string;
  /** verify and tests: no display, serial to null. */
  readonly standIns: boolean;
}

export const stateOf = (spec: MachineSpec, o: VmEmitOptions): string => o.state ?? stateFolder(spec);

export function machineOption(placed: PlacedMachine): QemuArg {
  const pairs: [string, string][] = [];
  if (placed.firmware?.secureBoot) pairs.push(['smm', 'on']);
  if (placed.acpi === false) pairs.push(['acpi', 'off']);
  return option('-machine', placed.machineType, pairs);
}

export function cpuArgs(spec: MachineSpec, placed: PlacedMachine): QemuArg[] {
  if (!placed.cpu) return [];
  const flags = blockProps(spec.properties.get('cpu')?.value).filter((p) => p.key.name).map((p): [string, string] => [p.key.name, flagValue(p.value)]);
  return [option('-cpu', placed.cpu.model, flags)];
}

export function smpArg(spec: MachineSpec): QemuArg {
  const cpus = spec.properties.get('cpus')?.value;
  const topo = spec.properties.get('topology')?.value;
  const parts = Object.keys(topologyKeys).flatMap((k): [string, string][] => {
    const v = member(blockProps(topo), k);
    return v?.kind === 'Integer' ? [[k, String(v.value)]] : [];
  });
  const product = Object.keys(topologyKeys).reduce((n, k) => { const v = member(blockProps(topo), k); return n * (v?.kind === 'Integer' ? v.value : 1); }, 1);
  const count = cpus?.kind === 'Integer' ? cpus.value : parts.length ? product : 1;
  return option('-smp', String(count), parts);
}

export function smbiosArgs(placed: PlacedMachine): QemuArg[] {
  const s = placed.smbios;
  return s ? [option('-smbios', undefined, [['type', '1'], ...Object.keys(s).map((k): [string, string] => [k, s[k]])])] : [];
}

export function firmwareArgs(spec: MachineSpec, placed: PlacedMachine, o: VmEmitOptions): QemuArg[] {
  const fw = placed.firmware;
  const choice = firmwareChoice(spec);
  if (!fw || !choice || (o.standIns && o.state === undefined)) return [];
  const nvram = o.state !== undefined ? `${o.state}/${NVRAM_FILE}` : choice.nvram;
  const out = [
    option('-drive', undefined, [['if', 'pflash'], ['format', 'raw'], ['unit', '0'], ['readonly', 'on'], ['file', fw.code.path]]),
    option('-drive', undefined, [['if', 'pflash'], ['format', 'raw'], ['unit', '1'], ['file', nvram]]),
  ];
  if (fw.secureBoot) out.push(option('-global', undefined, [['driver', 'cfi.pflash01'], ['property', 'secure'], ['value', 'on']]));
  return out;
}

/** `vnc { listen = "127.0.0.1:1" }` → `-vnc 127.0.0.1:1` (QEMU refuses `-display vnc,display=:1`). */
export function displayArgs(spec: MachineSpec, o: VmEmitOptions): QemuArg[] {
  const v = spec.properties.get('display')?.value;
  const type = typeOf(v);
  if (o.standIns || !type) return []; // verify adds its own -display none
  const props = blockProps(v);
  if (type === 'vnc') {
    const password = member(props, 'password')?.kind === 'Boolean' && onOff(member(props, 'password'), false) === 'on';
    return [option('-vnc', str(member(props, 'listen')) ?? '127.0.0.1:0', password ? [['password', 'on']] : [])];
  }
  if (type === 'spice') {
    const port = member(props, 'port');
    const opts: [string, string][] = [
      ['port', String(port?.kind === 'Integer' ? port.value : 5930)],
      ['addr', str(member(props, 'addr')) ?? '127.0.0.1'],
      ['disable-ticketing', onOff(member(props, 'disable-ticketing'), true)],
    ];
    return [option('-spice', undefined, opts), option('-display', 'none')];
  }
  // `gtk { full-screen = true }` → -display gtk,full-screen=on
  const text = (v: Value): string => (v.kind === 'Size' ? String(v.bytes) : v.kind === 'Identifier' ? v.name : flagValue(v));
  const pairs = props.filter((p) => p.key.name && p.value).map((p): [string, string] => [p.key.name, text(p.value!)]);
  return [option('-display', type, pairs)];
}

/** The guest's ttyS0: `-chardev …,id=chr-ttyS0 -device isa-serial,id=ttyS0,chardev=chr-ttyS0`. */
export function serialArgs(spec: MachineSpec, o: VmEmitOptions): QemuArg[] {
  const v = spec.properties.get('serial')?.value;
  let type = typeOf(v);
  if (!type) return [];
  const props = blockProps(v);
  const path = str(member(props, 'path'));
  const id = backendId('chardev', 'ttyS0');
  const pairs: QemuProp[] = [['id', id]];
  if (o.standIns && (type === 'socket' || type === 'file' || type === 'stdio')) type = 'null';
  else if (type === 'socket') {
    pairs.push(['path', path ?? 'serial.sock']);
    pairs.push(['server', onOff(member(props, 'server'), true), 'bool'], ['wait', onOff(member(props, 'wait'), false), 'bool']);
  }
  else if (type === 'file') pairs.push(['path', path ?? 'serial.log']);
  return [
    { kind: 'backend', option: 'chardev', type, id, owner: 'ttyS0', props: pairs },
    { kind: 'device', driver: 'isa-serial', id: 'ttyS0', props: [['chardev', id]], own: [] },
  ];
}

/** The swtpm socket of the TPM, in the state folder. */
export const tpmSocket = (spec: MachineSpec, o: VmEmitOptions): string => `${stateOf(spec, o)}/${TPM_SOCKET}`;

/** A device's backends, the properties that name them, and the ones the source gives (a 9p share's mount_tag from its `tag`). */
export interface VmBackend {
  readonly backends: QemuBackend[];
  readonly pairs: QemuProp[];
  readonly own?: QemuProp[];
}

/** Backends and device properties of a TPM or 9p device. */
export function vmBackend(spec: MachineSpec, d: PlacedDevice, o: VmEmitOptions, resolveDir: (path: string) => string): VmBackend {
  const props = d.source?.properties ?? [];
  if (isTpmModel(d.model)) {
    const chardev = backendId('chardev', d.id);
    const tpmdev = backendId('tpmdev', d.id);
    return {
      backends: [
        { kind: 'backend', option: 'chardev', type: 'socket', id: chardev, owner: d.id, props: [['id', chardev], ['path', tpmSocket(spec, o)]] },
        { kind: 'backend', option: 'tpmdev', type: 'emulator', id: tpmdev, owner: d.id, props: [['id', tpmdev], ['chardev', chardev]] },
      ],
      pairs: [['tpmdev', tpmdev]],
    };
  }
  const path = str(member(props, 'path')) ?? '.';
  const ro = member(props, 'readonly');
  const fsdev = backendId('fsdev', d.id);
  const fsProps: QemuProp[] = [['id', fsdev], ['path', resolveDir(path)], ['security_model', 'mapped-xattr']];
  if (ro?.kind === 'Boolean' && ro.value) fsProps.push(['readonly', 'on', 'bool']);
  return {
    backends: [{ kind: 'backend', option: 'fsdev', type: 'local', id: fsdev, owner: d.id, props: fsProps }],
    pairs: [['fsdev', fsdev]],
    own: [['mount_tag', str(member(props, 'tag')) ?? d.id]],
  };
}
