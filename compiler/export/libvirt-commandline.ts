/**
 * `--qemu-commandline`: a device libvirt's XML cannot describe (a PIIX3 USB controller off
 * 00:01.2, a `user` netdev with port forwards, …) is carried as QEMU arguments in
 * `<qemu:commandline>`, at its locked address, with a warning naming it. Its children go with it
 * (libvirt cannot put a device on a bus it does not know). Without the option such a device is
 * an error: the export never drops anything.
 */
import { chipsets } from '../chipsets.js';
import { emit } from '../emit.js';
import type { PlacedDevice } from '../model.js';
import type { Ctx } from './libvirt-context.js';
import { absolutePath } from './libvirt-context.js';
import { el, type XmlElement } from './xml.js';

/** Splits QEMU's `a=b,c=d` on single commas (`,,` is an escaped comma). */
const splitOption = (text: string): string[] => text.split(/(?<!,),(?!,)/);

/** The QEMU name libvirt gives a bus machinec calls `bus`: the root bus keeps its name, the rest get the `ua-` alias. */
function libvirtBus(ctx: Ctx, bus: string): string {
  return bus === chipsets[ctx.machine.chipset].rootBus ? bus : `ua-${bus}`;
}

const STRING_KEYS = new Set(['id', 'bus', 'addr', 'mac', 'serial', 'netdev', 'drive', 'chardev', 'audiodev', 'host', 'name', 'romfile']);

/**
 * `-device` in QEMU's JSON form: libvirt writes its own devices as JSON, and QEMU 7.2 creates
 * every key=value `-device` before every JSON one, so a key=value device could not sit on a
 * libvirt controller. JSON values are typed: numbers, booleans (on/off), strings (a USB port is a string).
 */
function deviceJson(parts: readonly string[], usb: boolean): string {
  const obj: Record<string, string | number | boolean> = { driver: parts[0] };
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=');
    const key = p.slice(0, eq);
    const value = p.slice(eq + 1).replace(/,,/g, ',');
    obj[key] = STRING_KEYS.has(key) || (usb && key === 'port') ? value : /^\d+$/.test(value) ? Number(value) : value === 'on' || value === 'off' ? value === 'on' : value;
  }
  return JSON.stringify(obj);
}

/** The arguments machinec itself emits for device `d` and its backend, renamed to libvirt's ids and absolute paths. */
export function commandlineArgs(ctx: Ctx, d: PlacedDevice, argv: readonly string[]): string[] {
  const out: string[] = [];
  const backendIds = new Set([`id=net-${d.id}`, `node-name=drive-${d.id}`, `id=chr-${d.id}`, `id=audio-${d.id}`]);
  for (let i = 0; i + 1 < argv.length; i++) {
    const parts = splitOption(argv[i + 1]);
    if (argv[i] === '-device' && parts.includes(`id=${d.id}`)) {
      const renamed = parts.map((p) => (p === `id=${d.id}` ? `id=ua-${d.id}` : p.startsWith('bus=') ? `bus=${libvirtBus(ctx, p.slice(4))}` : p));
      out.push('-device', deviceJson(renamed, d.attachment === 'usb'));
    } else if (argv[i].startsWith('-') && argv[i] !== '-device' && parts.some((p) => backendIds.has(p))) {
      out.push(argv[i], parts.map((p) => (p.startsWith('file.filename=') ? `file.filename=${absolutePath(ctx.baseDir, p.slice(14))}` : p)).join(','));
    }
  }
  return out;
}

export function commandlineElement(args: readonly string[]): XmlElement | undefined {
  return args.length ? el('qemu:commandline', {}, ...args.map((value) => el('qemu:arg', { value }))) : undefined;
}

/** machinec's own argv for the machine, computed once for the devices that need it. */
export const machineArgv = (ctx: Ctx): string[] => emit(ctx.spec, ctx.machine);
