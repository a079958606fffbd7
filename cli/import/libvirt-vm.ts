/**
 * The whole VM of a libvirt domain as the QEMU options libvirt 9.0 gives it, for `import
 * --libvirt` (cli/import/libvirt.ts reads the devices): the OVMF images (`<loader>`, `<nvram>`,
 * secure boot with SMM), the CPU (`<cpu>` model and features, `<features><hyperv>`, the
 * hypervclock timer), the vmgenid GUID (`<genid>`), SMBIOS (`<sysinfo>`), the serial console
 * and the display. These options then go the way every import's do (cli/import/vm-args.ts), so
 * what machinec cannot say is a note there. `machinec export libvirt` writes these elements
 * (compiler/export/libvirt-vm.ts): the names here are the same table read the other way.
 */
import { escapeOptionValue as esc } from '../../compiler/index.js';
import { at, child, childrenNamed, type XmlNode } from './libvirt-xml.js';

/** An error naming the element (nothing is imported). */
export type Refuse = (n: XmlNode, why: string) => undefined;

/** QEMU's CPU model and flag names, SMBIOS field names: never an option list. */
const WORD = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

const on = (n: XmlNode | undefined): boolean => (n?.attrs.state ?? 'on') === 'on';

/** libvirt 9.0's `<hyperv>` elements → QEMU's Hyper-V CPU flags. */
const HYPERV: Readonly<Record<string, string>> = {
  relaxed: 'hv-relaxed', vapic: 'hv-vapic', spinlocks: 'hv-spinlocks', vpindex: 'hv-vpindex', runtime: 'hv-runtime',
  synic: 'hv-synic', stimer: 'hv-stimer', reset: 'hv-reset', vendor_id: 'hv-vendor-id', frequencies: 'hv-frequencies',
  reenlightenment: 'hv-reenlightenment', tlbflush: 'hv-tlbflush', ipi: 'hv-ipi', evmcs: 'hv-evmcs', avic: 'hv-avic',
};

/** `<features><hyperv>` (and `<clock><timer name='hypervclock'>`) as `-cpu` flags. */
function hypervFlags(root: XmlNode, notes: string[]): string[] {
  const flags: string[] = [];
  const hyperv = child(child(root, 'features'), 'hyperv');
  if ((hyperv?.attrs.mode ?? 'custom') !== 'custom') notes.push(`<hyperv mode='${hyperv!.attrs.mode}'>: only the flags it names are carried over`);
  for (const h of hyperv?.children ?? []) {
    const flag = HYPERV[h.name];
    if (!flag) notes.push(`<hyperv><${h.name}>: no QEMU flag machinec knows for it, not carried over`);
    else if (h.name === 'spinlocks' && on(h)) flags.push(`${flag}=${/^(?:0x[0-9a-f]+|\d+)$/i.test(h.attrs.retries ?? '') ? h.attrs.retries : '0x1fff'}`);
    else if (h.name === 'vendor_id' && on(h)) flags.push(`${flag}=${esc(h.attrs.value ?? '')}`);
    else {
      flags.push(`${flag}=${on(h) ? 'on' : 'off'}`);
      if (h.name === 'stimer' && on(child(h, 'direct'))) flags.push('hv-stimer-direct=on');
    }
  }
  const clock = childrenNamed(child(root, 'clock'), 'timer').find((t) => t.attrs.name === 'hypervclock');
  if (clock) flags.push(`hv-time=${clock.attrs.present === 'no' ? 'off' : 'on'}`);
  return flags;
}

/** `<cpu>`: host-passthrough is `host`, maximum `max`, custom its `<model>`; `<feature>`s are `+flag`/`-flag`. */
export function cpuArgs(root: XmlNode, notes: string[], refuse: Refuse): string[] {
  const cpu = child(root, 'cpu');
  const mode = cpu?.attrs.mode ?? 'custom';
  const model = mode === 'host-passthrough' ? 'host' : mode === 'maximum' ? 'max' : mode === 'custom' ? child(cpu, 'model')?.text : undefined;
  const hv = hypervFlags(root, notes);
  if (!model) {
    if (mode !== 'custom') notes.push(`<cpu mode='${mode}'>: not carried over (machinec carries host-passthrough, maximum and custom models)`);
    else if (hv.length) notes.push('<hyperv>: Hyper-V flags without a <cpu> model are not carried over');
    return [];
  }
  if (!WORD.test(model)) return refuse(cpu!, `CPU model ${model} is not a CPU model name`) ?? [];
  const bad = childrenNamed(cpu, 'feature').find((f) => !WORD.test(f.attrs.name ?? ''));
  if (bad) return refuse(bad, `CPU feature ${bad.attrs.name} is not a flag name`) ?? [];
  const features = childrenNamed(cpu, 'feature').flatMap((f) => (f.attrs.policy === 'disable' || f.attrs.policy === 'forbid' ? [`-${f.attrs.name}`] : f.attrs.policy === 'optional' ? (notes.push(`<feature policy='optional' name='${f.attrs.name}'>: not carried over (machinec requires or disables a flag)`), []) : [`+${f.attrs.name}`]));
  return ['-cpu', [model, ...features, ...hv].join(',')];
}

/** `<loader type='pflash'>` and `<nvram>`: the CODE image read-only at unit 0, the VARS at unit 1; secure boot with SMM. */
export function firmwareArgs(root: XmlNode, notes: string[]): { args: string[]; machine: string } {
  const os = child(root, 'os');
  const loader = child(os, 'loader');
  if (!loader) return { args: [], machine: '' };
  if ((loader.attrs.type ?? 'pflash') !== 'pflash' || !loader.text) {
    notes.push('<loader>: only a pflash CODE image (OVMF) is carried over');
    return { args: [], machine: '' };
  }
  if (loader.attrs.readonly === 'no') notes.push('<loader readonly=\'no\'>: the CODE image is carried read-only');
  const args = ['-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${esc(loader.text)}`];
  const nvram = child(os, 'nvram')?.text;
  if (nvram) args.push('-drive', `if=pflash,format=raw,unit=1,file=${esc(nvram)}`);
  if (loader.attrs.secure === 'yes') args.push('-global', 'driver=cfi.pflash01,property=secure,value=on');
  const smm = child(child(root, 'features'), 'smm');
  return { args, machine: smm ? `,smm=${on(smm) ? 'on' : 'off'}` : '' };
}

/** `<genid>GUID</genid>`: the vmgenid device. */
export function genidArgs(root: XmlNode, refuse: Refuse): string[] {
  const genid = child(root, 'genid');
  const guid = genid?.text;
  if (guid && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(guid)) return refuse(genid!, `${guid} is not a GUID`) ?? [];
  return guid ? ['-device', `vmgenid,id=genid,guid=${guid}`] : [];
}

/** `<sysinfo type='smbios'><system>` entries, when `<os><smbios mode='sysinfo'/>` passes them: `-smbios type=1,…`. */
export function smbiosArgs(root: XmlNode, notes: string[]): string[] {
  const sysinfo = child(root, 'sysinfo');
  if (!sysinfo) return [];
  if (sysinfo.attrs.type !== 'smbios' || child(child(root, 'os'), 'smbios')?.attrs.mode !== 'sysinfo') {
    notes.push('<sysinfo>: passed to the guest only as <sysinfo type=\'smbios\'> with <os><smbios mode=\'sysinfo\'/>; not carried over otherwise');
    return [];
  }
  for (const other of sysinfo.children.filter((c) => c.name !== 'system')) notes.push(`<sysinfo><${other.name}>: machinec writes SMBIOS type 1 (<system>) only, not carried over`);
  const named = (e: XmlNode): boolean => WORD.test(e.attrs.name ?? '') || (notes.push(`${at(e)}: SMBIOS field ${e.attrs.name} is not carried over`), false);
  const entries = childrenNamed(child(sysinfo, 'system') ?? sysinfo, 'entry').filter((e) => e.attrs.name !== 'uuid' && named(e));
  return entries.length ? ['-smbios', ['type=1', ...entries.map((e) => `${e.attrs.name}=${esc(e.text)}`)].join(',')] : [];
}

/** The first `<serial>` on isa-serial port 0 as `-serial`: pty, null, file:PATH, unix:PATH (QEMU listening). */
export function serialArgs(n: XmlNode, notes: string[]): string[] {
  const source = child(n, 'source');
  const port = child(n, 'target')?.attrs.port ?? '0';
  if (port !== '0' || (child(n, 'target')?.attrs.type ?? 'isa-serial') !== 'isa-serial') {
    notes.push(`${at(n)}: port ${port}: machinec carries the guest's ttyS0 (isa-serial port 0) only`);
    return [];
  }
  if (n.attrs.type === 'pty' || n.attrs.type === 'null') return ['-serial', n.attrs.type];
  if (n.attrs.type === 'file' && source?.attrs.path) return ['-serial', `file:${source.attrs.path}`];
  if (n.attrs.type === 'unix' && source?.attrs.path && source.attrs.mode === 'bind') return ['-serial', `unix:${esc(source.attrs.path)},server=on,wait=off`];
  notes.push(`${at(n)}: type ${n.attrs.type} is not carried over (the guest's ttyS0 can be pty, null, a file or a unix socket QEMU listens on)`);
  return [];
}

/** `<graphics>`: VNC on port 5900 + N as `-vnc HOST:N`, SPICE with its port and address, SDL. */
export function graphicsArgs(n: XmlNode, notes: string[]): string[] {
  const element = child(n, 'listen');
  const kind = element?.attrs.type ?? 'address';
  if (kind !== 'address') notes.push(`${at(element!)}: a ${kind} listen is not carried over (an address is)`);
  const legacy = n.attrs.listen; // libvirt writes the first <listen>'s address here too
  const given = element?.attrs.address ?? legacy ?? '127.0.0.1';
  // An address, never an option list: anything else listens where libvirt's default does.
  const listen = /^[0-9A-Za-z.:-]+$/.test(given) ? given : (notes.push(`${at(n)}: listen address ${given} is not carried over`), '127.0.0.1');
  const port = Number(n.attrs.port);
  if (n.attrs.type === 'vnc' && n.attrs.autoport !== 'yes' && port >= 5900) return ['-vnc', `${listen.includes(':') ? `[${listen}]` : listen}:${port - 5900}`];
  if (n.attrs.type === 'spice' && n.attrs.autoport !== 'yes' && port > 0 && !n.attrs.passwd) return ['-spice', `port=${port},addr=${listen},disable-ticketing=on`];
  if (n.attrs.type === 'sdl') return ['-display', 'sdl'];
  notes.push(`${at(n)}: ${n.attrs.type}${n.attrs.autoport === 'yes' || !n.attrs.port ? ' with a port libvirt picks' : ''} is not carried over (machinec carries VNC and SPICE on a fixed port, and SDL)`);
  return [];
}
