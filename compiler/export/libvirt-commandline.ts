/**
 * `--qemu-commandline`: a device libvirt's XML cannot describe (a PIIX3 USB controller off
 * 00:01.2, a `user` netdev with port forwards, …) is carried as QEMU arguments in
 * `<qemu:commandline>`, at its locked address, with a warning naming it. Its children go with it
 * (libvirt cannot put a device on a bus it does not know). Without the option such a device is
 * an error: the export never drops anything. The arguments are printed from the machine model.
 */
import { chipsets } from '../chipsets.js';
import { qemuModel } from '../emit.js';
import type { PlacedDevice } from '../model.js';
import { keyvalText } from '../qemu/keyval.js';
import { deviceAdd } from '../qemu/qmp.js';
import type { QemuModel, QemuProp } from '../qemu/model.js';
import type { Ctx } from './libvirt-context.js';
import { absoluteIfPath } from './libvirt-context.js';
import { el, type XmlElement } from './xml.js';

/** The QEMU name libvirt gives a bus machinec calls `bus`: the root bus keeps its name, the rest get the `ua-` alias. */
function libvirtBus(ctx: Ctx, bus: string): string {
  return bus === chipsets[ctx.machine.chipset].rootBus ? bus : `ua-${bus}`;
}

/**
 * The arguments machinec itself emits for device `d` and its backends, renamed to libvirt's ids
 * and absolute paths. `-device` is in QEMU's JSON form: libvirt writes its own devices as JSON,
 * and QEMU 7.2 creates every key=value `-device` before every JSON one, so a key=value device
 * could not sit on a libvirt controller. JSON values are typed as QMP's device_add types them.
 */
export function commandlineArgs(ctx: Ctx, d: PlacedDevice, model: QemuModel): string[] {
  const out: string[] = [];
  for (const a of model.args) {
    if (a.kind === 'backend' && a.owner === d.id) {
      out.push(`-${a.option}`, keyvalText(a.type, absoluteProps(ctx, a.props)));
    } else if (a.kind === 'device' && a.id === d.id) {
      const bus = a.bus === undefined ? undefined : libvirtBus(ctx, a.bus);
      const device = { ...a, id: `ua-${a.id}`, bus, props: absoluteProps(ctx, a.props), own: absoluteProps(ctx, a.own) };
      out.push('-device', JSON.stringify(deviceAdd(device)));
    }
  }
  return out;
}

const absoluteProps = (ctx: Ctx, props: readonly QemuProp[]): QemuProp[] => props.map((p): QemuProp => [p[0], absoluteIfPath(ctx.baseDir, p[0], p[1]), p[2]]);

export function commandlineElement(args: readonly string[]): XmlElement | undefined {
  return args.length ? el('qemu:commandline', {}, ...args.map((value) => el('qemu:arg', { value }))) : undefined;
}

/** machinec's own machine model, made once for the devices that need it. */
export const machineModel = (ctx: Ctx): QemuModel => qemuModel(ctx.spec, ctx.machine);
