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
import { NVRAM_FILE, TPM_SOCKET, topologyKeys } from './vm-schema.js';
import { blockProps, firmwareChoice, member, stateFolder, typeOf } from './vm.js';

const esc = (v: string): string => v.replace(/,/g, ',,');
const onOff = (v: Value | undefined, fallback: boolean): string => ((v?.kind === 'Boolean' ? v.value : fallback) ? 'on' : 'off');
const str = (v: Value | undefined): string | undefined => (v?.kind === 'String' ? v.value : undefined);

function flagValue(v: Value | undefined): string {
  if (v?.kind === 'Boolean') return v.value ? 'on' : 'off';
  if (v?.kind === 'Integer') return v.text;
  if (v?.kind === 'String') return esc(v.value);
  return 'on';
}

/** Where the emitted command line keeps per-VM state: the machine's folder, or verify's throwaway one. */
export interface VmEmitOptions {
  readonly state?: string;
  /** verify and tests: no display, serial to null. */
  readonly standIns: boolean;
}

export const stateOf = (spec: MachineSpec, o: VmEmitOptions): string => o.state ?? stateFolder(spec);

export function machineOption(placed: PlacedMachine): string {
  return placed.firmware?.secureBoot ? `${placed.machineType},smm=on` : placed.machineType;
}

export function cpuArgs(spec: MachineSpec, placed: PlacedMachine): string[] {
  if (!placed.cpu) return [];
  const flags = blockProps(spec.properties.get('cpu')?.value).filter((p) => p.key.name).map((p) => `${p.key.name}=${flagValue(p.value)}`);
  return ['-cpu', [placed.cpu.model, ...flags].join(',')];
}

export function smpArg(spec: MachineSpec): string {
  const cpus = spec.properties.get('cpus')?.value;
  const topo = spec.properties.get('topology')?.value;
  const parts = Object.keys(topologyKeys).flatMap((k) => {
    const v = member(blockProps(topo), k);
    return v?.kind === 'Integer' ? [`${k}=${v.value}`] : [];
  });
  const product = Object.keys(topologyKeys).reduce((n, k) => { const v = member(blockProps(topo), k); return n * (v?.kind === 'Integer' ? v.value : 1); }, 1);
  const count = cpus?.kind === 'Integer' ? cpus.value : parts.length ? product : 1;
  return [String(count), ...parts].join(',');
}

export function smbiosArgs(placed: PlacedMachine): string[] {
  const s = placed.smbios;
  return s ? ['-smbios', ['type=1', ...Object.keys(s).map((k) => `${k}=${esc(s[k])}`)].join(',')] : [];
}

export function firmwareArgs(spec: MachineSpec, placed: PlacedMachine, o: VmEmitOptions): string[] {
  const fw = placed.firmware;
  const choice = firmwareChoice(spec);
  if (!fw || !choice || (o.standIns && o.state === undefined)) return [];
  const nvram = o.state !== undefined ? `${o.state}/${NVRAM_FILE}` : choice.nvram;
  const out = ['-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${esc(fw.code.path)}`, '-drive', `if=pflash,format=raw,unit=1,file=${esc(nvram)}`];
  if (fw.secureBoot) out.push('-global', 'driver=cfi.pflash01,property=secure,value=on');
  return out;
}

/** `vnc { listen = "127.0.0.1:1" }` → `-vnc 127.0.0.1:1` (QEMU refuses `-display vnc,display=:1`). */
export function displayArgs(spec: MachineSpec, o: VmEmitOptions): string[] {
  const v = spec.properties.get('display')?.value;
  const type = typeOf(v);
  if (o.standIns || !type) return []; // verify adds its own -display none
  const props = blockProps(v);
  if (type === 'vnc') return ['-vnc', [esc(str(member(props, 'listen')) ?? '127.0.0.1:0'), ...(member(props, 'password')?.kind === 'Boolean' && onOff(member(props, 'password'), false) === 'on' ? ['password=on'] : [])].join(',')];
  if (type === 'spice') {
    const port = member(props, 'port');
    const opts = [`port=${port?.kind === 'Integer' ? port.value : 5930}`, `addr=${esc(str(member(props, 'addr')) ?? '127.0.0.1')}`, `disable-ticketing=${onOff(member(props, 'disable-ticketing'), true)}`];
    return ['-spice', opts.join(','), '-display', 'none'];
  }
  // `gtk { full-screen = true }` → -display gtk,full-screen=on
  return ['-display', [type, ...props.filter((p) => p.key.name && p.value).map((p) => `${p.key.name}=${p.value!.kind === 'Size' ? String(p.value!.bytes) : p.value!.kind === 'Identifier' ? p.value!.name : flagValue(p.value)}`)].join(',')];
}

/** The guest's ttyS0: `-chardev …,id=chr-ttyS0 -device isa-serial,id=ttyS0,chardev=chr-ttyS0`. */
export function serialArgs(spec: MachineSpec, o: VmEmitOptions): string[] {
  const v = spec.properties.get('serial')?.value;
  const type = typeOf(v);
  if (!type) return [];
  const props = blockProps(v);
  const path = str(member(props, 'path'));
  let chardev = `${type},id=chr-ttyS0`;
  if (o.standIns && (type === 'socket' || type === 'file' || type === 'stdio')) chardev = 'null,id=chr-ttyS0';
  else if (type === 'socket') chardev += `,path=${esc(path ?? 'serial.sock')},server=${onOff(member(props, 'server'), true)},wait=${onOff(member(props, 'wait'), false)}`;
  else if (type === 'file') chardev += `,path=${esc(path ?? 'serial.log')}`;
  return ['-chardev', chardev, '-device', 'isa-serial,id=ttyS0,chardev=chr-ttyS0'];
}

/** The swtpm socket of the TPM, in the state folder. */
export const tpmSocket = (spec: MachineSpec, o: VmEmitOptions): string => `${stateOf(spec, o)}/${TPM_SOCKET}`;

/** Backend options and device properties of a TPM or 9p device. */
export function vmBackend(spec: MachineSpec, d: PlacedDevice, o: VmEmitOptions, resolveDir: (path: string) => string): { backends: string[]; pairs: [string, string][] } {
  const props = d.source?.properties ?? [];
  if (isTpmModel(d.model)) {
    return {
      backends: ['-chardev', `socket,id=${backendId('chardev', d.id)},path=${esc(tpmSocket(spec, o))}`, '-tpmdev', `emulator,id=${backendId('tpmdev', d.id)},chardev=${backendId('chardev', d.id)}`],
      pairs: [['tpmdev', backendId('tpmdev', d.id)]],
    };
  }
  const path = str(member(props, 'path')) ?? '.';
  const ro = member(props, 'readonly');
  const fsdev = [`local,id=${backendId('fsdev', d.id)},path=${esc(resolveDir(path))},security_model=mapped-xattr`, ...(ro?.kind === 'Boolean' && ro.value ? ['readonly=on'] : [])].join(',');
  return { backends: ['-fsdev', fsdev], pairs: [['fsdev', backendId('fsdev', d.id)], ['mount_tag', str(member(props, 'tag')) ?? d.id]] };
}
