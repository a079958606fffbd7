/** The lock-spec plan scenarios: a machine before and after one edit, and the sign each changed device gets. */
import { machine, nic } from '../lock/harness.js';

export interface PlanCase {
  readonly before: string;
  readonly after: string;
  readonly signs: Record<string, string>;
}

const vnic = (id: string, at?: string) => nic(id, 'virtio-net-pci', at);
const inner = (id: string) => `{ device ${id}: virtio-net-pci { netdev = user } }`;
export const PLAN_CASES: Record<string, PlanCase> = {
  add: {
    before: machine('q35', [vnic('a')]),
    after: machine('q35', [vnic('a'), nic('b', 'e1000')]),
    signs: { rp2: '+', pcibr1: '+', b: '+' },
  },
  remove: {
    before: machine('q35', [vnic('a'), vnic('b'), 'device usb: qemu-xhci { device tablet: usb-tablet {} }']),
    after: machine('q35', [vnic('b'), 'device usb: qemu-xhci {}']),
    signs: { a: '-', tablet: '-' },
  },
  move: {
    before: machine('pc', [nic('a'), nic('b')]),
    after: machine('pc', [nic('a', 'e1000', '10.0'), nic('b')]),
    signs: { a: '!' },
  },
  renumber: {
    before: machine('q35', [vnic('a'), vnic('b')]),
    after: machine('q35', [vnic('a'), vnic('b'), `device port0: pcie-root-port @ 01.0 ${inner('c')}`]),
    signs: { port0: '+', c: '+', rp1: '!', a: '!', rp2: '!', b: '!' },
  },
  'model-change': {
    before: machine('pc', [nic('a'), nic('b')]),
    after: machine('pc', [nic('a'), nic('b', 'rtl8139')]),
    signs: { b: '~' },
  },
  'mac-change': {
    before: machine('pc', [nic('a'), nic('b')]),
    after: machine('pc', [nic('a'), 'device b: e1000 { netdev = user, mac = "52:54:00:12:34:56" }']),
    signs: { b: '~' },
  },
};
