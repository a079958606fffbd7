/**
 * The whole VM in libvirt's words: firmware (`<loader>`/`<nvram>`, SMM for secure boot), the CPU
 * (`<cpu>` with model, topology and features, Hyper-V enlightenments under `<features><hyperv>`,
 * hv-time as the hypervclock timer), SMBIOS (`<sysinfo>`), the vmgenid GUID (`<genid>`), the
 * serial console, VNC/SPICE graphics, the TPM (`<tpm>` with libvirt's own swtpm), 9p shares
 * (`<filesystem>`) and `qemu-args` (`<qemu:commandline>`, a warning). What libvirt 9.0 cannot say
 * is an error naming it; where libvirt keeps something elsewhere than `machinec run` does (the
 * TPM's state), a warning says so.
 */
import type { Value } from '../../grammar/index.js';
import { isTpmModel } from '../catalog.js';
import { blockProps, firmwareChoice, member, typeOf } from '../vm.js';
import { topologyKeys } from '../vm-schema.js';
import type { PlacedDevice } from '../model.js';
import { absolutePath, address, alias, idSpan, overrideRest, propValue, report, virtioModel, type Ctx } from './libvirt-context.js';
import { el, type XmlElement } from './xml.js';

const str = (v: Value | undefined): string | undefined => (v?.kind === 'String' ? v.value : undefined);
const bool = (v: Value | undefined, fallback: boolean): boolean => (v?.kind === 'Boolean' ? v.value : fallback);
const spanOf = (ctx: Ctx, key: string) => ctx.spec.properties.get(key)?.value?.span;

/** `<os>`: the versioned machine type, the OVMF CODE image and the per-VM VARS (from the locked template), SMBIOS from `<sysinfo>`. */
export function osElement(ctx: Ctx): { os: XmlElement; folders: string[] } {
  const fw = ctx.machine.firmware;
  const choice = firmwareChoice(ctx.spec);
  const type = el('type', { arch: 'x86_64', machine: ctx.machine.machineType }, 'hvm');
  const smbios = ctx.machine.smbios ? el('smbios', { mode: 'sysinfo' }) : undefined;
  if (!fw || !choice) return { os: el('os', {}, type, smbios), folders: [] };
  const nvram = absolutePath(ctx.baseDir, choice.nvram);
  const loader = el('loader', { readonly: 'yes', secure: fw.secureBoot ? 'yes' : 'no', type: 'pflash' }, absolutePath(ctx.baseDir, fw.code.path));
  const nvramElement = el('nvram', { template: absolutePath(ctx.baseDir, fw.vars.path) }, nvram);
  return { os: el('os', {}, type, loader, nvramElement, smbios), folders: [nvram.slice(0, nvram.lastIndexOf('/'))] };
}

/** QEMU's Hyper-V CPU flags → libvirt 9.0's `<hyperv>` elements (hv-time is a timer, see clockElement). */
const HYPERV: Readonly<Record<string, string>> = {
  'hv-relaxed': 'relaxed', 'hv-vapic': 'vapic', 'hv-spinlocks': 'spinlocks', 'hv-vpindex': 'vpindex', 'hv-runtime': 'runtime',
  'hv-synic': 'synic', 'hv-stimer': 'stimer', 'hv-reset': 'reset', 'hv-vendor-id': 'vendor_id', 'hv-frequencies': 'frequencies',
  'hv-reenlightenment': 'reenlightenment', 'hv-tlbflush': 'tlbflush', 'hv-ipi': 'ipi', 'hv-evmcs': 'evmcs', 'hv-avic': 'avic',
};
const cpuFlagsOf = (ctx: Ctx) => blockProps(ctx.spec.properties.get('cpu')?.value).filter((p) => p.key.name);

function hypervElement(ctx: Ctx): XmlElement | undefined {
  const items: XmlElement[] = [];
  const flags = cpuFlagsOf(ctx);
  for (const p of flags.filter((f) => f.key.name.startsWith('hv-') && f.key.name !== 'hv-time' && f.key.name !== 'hv-stimer-direct')) {
    const name = HYPERV[p.key.name];
    if (!name) {
      report(ctx, 'error', `cpu flag ${p.key.name} has no libvirt 9.0 <hyperv> element`, p.span, `libvirt 9.0 knows ${Object.keys(HYPERV).join(', ')}, hv-time and hv-stimer-direct`);
      continue;
    }
    const v = p.value;
    if (name === 'spinlocks') items.push(el(name, { state: 'on', retries: v?.kind === 'Integer' ? v.value : undefined }));
    else if (name === 'vendor_id') items.push(el(name, { state: 'on', value: str(v) }));
    else if (name === 'stimer' && flags.some((f) => f.key.name === 'hv-stimer-direct' && bool(f.value, true))) items.push(el(name, { state: bool(v, true) ? 'on' : 'off' }, el('direct', { state: 'on' })));
    else items.push(el(name, { state: bool(v, true) ? 'on' : 'off' }));
  }
  return items.length ? el('hyperv', { mode: 'custom' }, ...items) : undefined;
}

/** `<features>`: ACPI, APIC, SMM when secure boot needs it, the Hyper-V enlightenments. */
export function featuresElement(ctx: Ctx): XmlElement {
  return el('features', {}, ctx.machine.acpi === false ? undefined : el('acpi'), el('apic'), hypervElement(ctx), ctx.machine.firmware?.secureBoot ? el('smm', { state: 'on' }) : undefined);
}

/** The -smp numbers machinec gives QEMU: `cpus`, else the product of the topology's levels, else 1. */
export function vcpuCount(ctx: Ctx): number {
  const cpus = ctx.spec.properties.get('cpus')?.value;
  if (cpus?.kind === 'Integer') return cpus.value;
  const topo = blockProps(ctx.spec.properties.get('topology')?.value);
  return Object.keys(topologyKeys).reduce((n, k) => { const v = member(topo, k); return n * (v?.kind === 'Integer' ? v.value : 1); }, 1);
}

/**
 * The topology QEMU 7.2 makes of machinec's -smp (hw/core/machine-smp.c): with a topology, its
 * levels (missing ones are 1; the checks make their product cpus); without, `-smp N` is N cores
 * of one socket on machine types 6.2 and later, N sockets before. libvirt writes every level
 * (its default is N sockets), so the export does too, or the guest's CPU topology would change.
 */
export function topologyOf(ctx: Ctx, vcpus: number): Record<'sockets' | 'dies' | 'cores' | 'threads', number> {
  const topo = blockProps(ctx.spec.properties.get('topology')?.value);
  const level = (k: string): number => { const v = member(topo, k); return v?.kind === 'Integer' ? v.value : 1; };
  if (topo.length) return { sockets: level('sockets'), dies: level('dies'), cores: level('cores'), threads: level('threads') };
  const version = /-(\d+)\.(\d+)$/.exec(ctx.machine.machineType);
  const preferSockets = version ? Number(version[1]) * 100 + Number(version[2]) < 602 : false;
  return { sockets: preferSockets ? vcpus : 1, dies: 1, cores: preferSockets ? 1 : vcpus, threads: 1 };
}

/**
 * `<cpu>`: libvirt 9.0 knows no versioned model names (`Skylake-Client-v1` is "Unknown CPU
 * model"), so a model the lock resolved from an unversioned one is written as that one: under the
 * same versioned machine type QEMU resolves it to the same version (the lock's). CPUID flags are
 * `<feature>`s; the topology is QEMU's (topologyOf), every level written.
 */
export function cpuElement(ctx: Ctx, vcpus: number): XmlElement | undefined {
  const cpu = ctx.machine.cpu;
  const topology = vcpus > 1 || blockProps(ctx.spec.properties.get('topology')?.value).length ? el('topology', topologyOf(ctx, vcpus)) : undefined;
  const features = cpuFlagsOf(ctx).filter((p) => !p.key.name.startsWith('hv-')).map((p) => el('feature', { policy: bool(p.value, true) ? 'require' : 'disable', name: p.key.name }));
  if (!cpu) return topology ? el('cpu', {}, topology) : undefined;
  if (cpu.model === 'host') return el('cpu', { mode: 'host-passthrough', check: 'none' }, topology, ...features);
  if (cpu.model === 'max') return el('cpu', { mode: 'maximum', check: 'none' }, topology, ...features);
  let model = cpu.model;
  if (/-v\d+$/.test(model)) {
    if (!cpu.requested) {
      report(ctx, 'error', `cpu ${model}: libvirt 9.0 knows no versioned CPU model names`, spanOf(ctx, 'cpu'), `write the unversioned name (machinec locks the version it stands for under ${ctx.machine.machineType})`);
      return undefined;
    }
    model = cpu.requested;
  }
  return el('cpu', { mode: 'custom', match: 'exact', check: 'none' }, el('model', { fallback: 'forbid' }, model), topology, ...features);
}

/** `<clock>`: UTC, with the Hyper-V reference clock when the CPU has hv-time. */
export function clockElement(ctx: Ctx): XmlElement {
  const hvTime = cpuFlagsOf(ctx).find((p) => p.key.name === 'hv-time');
  return el('clock', { offset: 'utc' }, hvTime && bool(hvTime.value, true) ? el('timer', { name: 'hypervclock', present: 'yes' }) : undefined);
}

/** `<sysinfo type='smbios'>`: SMBIOS type 1, the lock's values (libvirt's entry names are QEMU's keys). */
export function sysinfoElement(ctx: Ctx): XmlElement | undefined {
  const s = ctx.machine.smbios;
  if (!s) return undefined;
  return el('sysinfo', { type: 'smbios' }, el('system', {}, ...Object.keys(s).map((k) => el('entry', { name: k }, s[k]))));
}

/** `<genid>`: the vmgenid device's locked GUID (libvirt takes one). */
export function genidElement(ctx: Ctx): XmlElement | undefined {
  const gens = ctx.machine.devices.filter((d) => d.model === 'vmgenid');
  for (const d of gens.slice(1)) report(ctx, 'error', `${d.id}: a libvirt domain has one vmgenid`, idSpan(d), 'remove the second vmgenid');
  return gens.length ? el('genid', {}, gens[0].pins.guid) : undefined;
}

/** The guest's ttyS0 as `<serial>` on isa-serial port 0: pty, null, file, or a Unix socket QEMU listens on. */
export function serialElement(ctx: Ctx): XmlElement | undefined {
  const v = ctx.spec.properties.get('serial')?.value;
  const type = typeOf(v);
  if (!type) return undefined;
  const props = blockProps(v);
  const target = el('target', { type: 'isa-serial', port: 0 }, el('model', { name: 'isa-serial' }));
  const path = str(member(props, 'path'));
  let source: XmlElement | undefined;
  let kind = type;
  if (type === 'socket') {
    if (!bool(member(props, 'server'), true) || bool(member(props, 'wait'), false)) {
      report(ctx, 'error', 'serial = socket { server = false | wait = true }: libvirt 9.0 listens without waiting (mode bind) or connects (not for the console here)', v!.span, 'use the default (server, no wait)');
      return undefined;
    }
    kind = 'unix';
    source = el('source', { mode: 'bind', path: absolutePath(ctx.baseDir, path ?? 'serial.sock') });
  } else if (type === 'file') source = el('source', { path: absolutePath(ctx.baseDir, path ?? 'serial.log') });
  else if (type !== 'pty' && type !== 'null') {
    report(ctx, 'error', `serial = ${type} has no libvirt <serial> form`, v!.span, 'libvirt exports serial = pty, null, file and socket');
    return undefined;
  }
  return el('serial', { type: kind }, source, target, el('alias', { name: 'ua-ttyS0' }));
}

/** `display` → `<graphics>`: vnc (HOST:N is TCP port 5900 + N), spice (port, addr, no ticketing), sdl; none writes nothing. */
export function graphicsElements(ctx: Ctx): XmlElement[] {
  const v = ctx.spec.properties.get('display')?.value;
  const type = typeOf(v);
  if (!type || type === 'none') return [];
  const props = blockProps(v);
  const fail = (why: string, hint: string): XmlElement[] => (report(ctx, 'error', `display ${type}: ${why}`, v!.span, hint), []);
  if (type === 'vnc') {
    if (bool(member(props, 'password'), false)) return fail("libvirt takes a VNC password only written in the XML (passwd=), and machinec keeps no secrets", 'remove password, and set one with `virsh edit` on the host');
    const listen = str(member(props, 'listen')) ?? '127.0.0.1:0';
    const m = /^(.*):(\d+)$/.exec(listen);
    if (!m) return fail(`listen "${listen}" is not HOST:DISPLAY`, 'write listen = "127.0.0.1:1"');
    const host = m[1].replace(/^\[(.*)\]$/, '$1') || '0.0.0.0';
    return [el('graphics', { type: 'vnc', port: 5900 + Number(m[2]), autoport: 'no', listen: host }, el('listen', { type: 'address', address: host }))];
  }
  if (type === 'spice') {
    if (!bool(member(props, 'disable-ticketing'), true)) return fail('libvirt takes a SPICE password only written in the XML (passwd=), and machinec keeps no secrets', 'remove disable-ticketing = false, and set a password with `virsh edit` on the host');
    const port = member(props, 'port');
    const addr = str(member(props, 'addr')) ?? '127.0.0.1';
    return [el('graphics', { type: 'spice', port: port?.kind === 'Integer' ? port.value : 5930, autoport: 'no', listen: addr }, el('listen', { type: 'address', address: addr }))];
  }
  if (type === 'sdl' && !props.length) return [el('graphics', { type: 'sdl' })];
  return fail('has no libvirt <graphics> form here', 'the export carries display = none, vnc, spice and sdl; set the display in libvirt (virsh edit) instead');
}

/** `qemu-args` as `<qemu:arg>`s, with a warning: libvirt passes them on unchecked. */
export function qemuArgsCarried(ctx: Ctx): string[] {
  const args = ctx.machine.qemuArgs ?? [];
  if (args.length) {
    ctx.diagnostics.push({
      code: 'libvirt-commandline',
      severity: 'warning',
      message: `qemu-args go to <qemu:commandline>: ${args.join(' ')}`,
      file: ctx.spec.file,
      span: spanOf(ctx, 'qemu-args'),
      hint: 'libvirt passes them to QEMU unchecked, after its own arguments, and knows nothing of what they change',
    });
  }
  return [...args];
}

/** A TPM: `<tpm>` with the emulator backend (libvirt starts its own swtpm). */
export function tpmElement(ctx: Ctx, d: PlacedDevice): XmlElement | undefined {
  const tpms = ctx.machine.devices.filter((t) => isTpmModel(t.model));
  if (tpms[0] !== d) {
    report(ctx, 'error', `${d.id}: libvirt 9.0 takes one TPM`, idSpan(d), 'remove the second TPM');
    return undefined;
  }
  ctx.diagnostics.push({
    code: 'libvirt-override',
    severity: 'warning',
    message: `${d.id}: under libvirt the TPM's state lives where libvirt keeps it (/var/lib/libvirt/swtpm/UUID), not in the machine's state folder`,
    file: ctx.spec.file,
    span: idSpan(d),
    hint: 'the same VM run by `machinec run` and by libvirt has two TPMs (BitLocker and measured-boot keys differ): move the state folder\'s tpm/ there to keep one',
  });
  return el('tpm', { model: d.model }, el('backend', { type: 'emulator', version: d.pins.version ?? '2.0' }), alias(d));
}

/** virtio-9p-pci: `<filesystem>` in mapped mode (QEMU's security_model=mapped-xattr), its tag as the target. */
export function filesystemElement(ctx: Ctx, d: PlacedDevice): XmlElement {
  const path = str(propValue(d, 'path')) ?? '.';
  const ro = propValue(d, 'readonly');
  overrideRest(ctx, d, ['path', 'tag']);
  return el(
    'filesystem',
    { type: 'mount', accessmode: 'mapped', model: d.pins['disable-legacy'] === 'on' ? virtioModel(d) : undefined },
    el('driver', { type: 'path' }),
    el('source', { dir: absolutePath(ctx.baseDir, path) }),
    el('target', { dir: str(propValue(d, 'tag')) ?? d.id }),
    ro?.kind === 'Boolean' && ro.value ? el('readonly') : undefined,
    alias(d),
    address(ctx, d),
  );
}
