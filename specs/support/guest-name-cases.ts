/**
 * The table of guest-name cases: machines whose devices sit at chosen buses, slots and functions
 * (root bus, behind root ports, pci-bridges and pcie-pci-bridges, nested bridges, multifunction
 * slots, two-digit bus numbers), with the name Linux's udev and Windows give each device, written
 * out by hand from the rules' references. `guest-names.spec.ts` checks machinec's names against
 * the table; `guest-names.e2e.spec.ts` boots each machine and checks the table against names
 * computed independently from QEMU's `query-pci`.
 */
export interface NameCase {
  readonly id: string;
  /** Where the guest sees it (lspci). */
  readonly guest: string;
  readonly linux?: string;
  readonly byPath?: string;
  readonly windows: string;
}

export interface NameMachine {
  readonly name: string;
  readonly source: string;
  readonly cases: readonly NameCase[];
}

const machine = (name: string, chipset: 'pc' | 'q35', lines: readonly string[]): string =>
  `machine ${name} {\n  chipset = ${chipset}\n${lines.map((l) => `  ${l}\n`).join('')}}\n`;

export const NAME_MACHINES: readonly NameMachine[] = [
  {
    name: 'pc-buses',
    source: machine('pcbuses', 'pc', [
      'device n3: e1000 { netdev = user }',
      'device n30: e1000 @ 1e.0 { netdev = user }',
      'device mf0: rtl8139 @ 05.0 { netdev = user }',
      'device mf1: e1000 @ 05.1 { netdev = user }',
      'device br: pci-bridge @ 07.0 { device behind: e1000 @ 01.0 { netdev = user } }',
      'device outer: pci-bridge @ 08.0 { device inner: pci-bridge @ 02.0 { device deep: rtl8139 @ 03.0 { netdev = user } } }',
      'device vd: virtio-blk-pci @ 0a.0 { file = "d.qcow2" }',
      'device hd: ide-hd { file = "h.qcow2" }',
    ]),
    cases: [
      { id: 'n3', guest: '00:03.0', linux: 'enp0s3', windows: 'PCIROOT(0)#PCI(0300)' },
      { id: 'n30', guest: '00:1e.0', linux: 'enp0s30', windows: 'PCIROOT(0)#PCI(1E00)' },
      { id: 'mf0', guest: '00:05.0', linux: 'enp0s5f0', windows: 'PCIROOT(0)#PCI(0500)' },
      { id: 'mf1', guest: '00:05.1', linux: 'enp0s5f1', windows: 'PCIROOT(0)#PCI(0501)' },
      { id: 'behind', guest: '01:01.0', linux: 'enp1s1', windows: 'PCIROOT(0)#PCI(0700)#PCI(0100)' },
      { id: 'deep', guest: '03:03.0', linux: 'enp3s3', windows: 'PCIROOT(0)#PCI(0800)#PCI(0200)#PCI(0300)' },
      { id: 'vd', guest: '00:0a.0', byPath: 'pci-0000:00:0a.0', windows: 'PCIROOT(0)#PCI(0A00)' },
      { id: 'hd', guest: '-', byPath: 'pci-0000:00:01.1-ata-1.0', windows: '' },
    ],
  },
  {
    name: 'q35-ports',
    source: machine('q35ports', 'q35', [
      'device v1: virtio-net-pci { netdev = user }',
      'device v2: virtio-net-pci { netdev = user }',
      'device legacy: e1000 { netdev = user }',
      'device onroot: e1000e @ 04.0 { netdev = user }',
      'device f0: e1000e @ 06.0 { netdev = user }',
      'device f3: e1000e @ 06.3 { netdev = user }',
      'device uport: pcie-root-port @ 05.0 { device own: virtio-net-pci { netdev = user } }',
      'device scsi: virtio-scsi-pci { device sd: scsi-hd { file = "s.qcow2" } }',
      'device nv: nvme { file = "n.qcow2" }',
      ...Array.from({ length: 8 }, (_, i) => `device many${i}: virtio-net-pci { netdev = user }`),
    ]),
    cases: [
      { id: 'v1', guest: '01:00.0', linux: 'enp1s0', windows: 'PCIROOT(0)#PCI(0200)#PCI(0000)' },
      { id: 'v2', guest: '02:00.0', linux: 'enp2s0', windows: 'PCIROOT(0)#PCI(0201)#PCI(0000)' },
      { id: 'legacy', guest: '04:01.0', linux: 'enp4s1', windows: 'PCIROOT(0)#PCI(0202)#PCI(0000)#PCI(0100)' },
      { id: 'onroot', guest: '00:04.0', linux: 'enp0s4', windows: 'PCIROOT(0)#PCI(0400)' },
      { id: 'f0', guest: '00:06.0', linux: 'enp0s6f0', windows: 'PCIROOT(0)#PCI(0600)' },
      { id: 'f3', guest: '00:06.3', linux: 'enp0s6f3', windows: 'PCIROOT(0)#PCI(0603)' },
      { id: 'sd', guest: '-', byPath: 'pci-0000:05:00.0-scsi-0:0:0:0', windows: '' },
      { id: 'nv', guest: '06:00.0', byPath: 'pci-0000:06:00.0-nvme-1', windows: 'PCIROOT(0)#PCI(0204)#PCI(0000)' },
      { id: 'many0', guest: '07:00.0', linux: 'enp7s0', windows: 'PCIROOT(0)#PCI(0205)#PCI(0000)' },
      { id: 'many3', guest: '0a:00.0', linux: 'enp10s0', windows: 'PCIROOT(0)#PCI(0300)#PCI(0000)' },
      { id: 'many7', guest: '0e:00.0', linux: 'enp14s0', windows: 'PCIROOT(0)#PCI(0304)#PCI(0000)' },
      { id: 'own', guest: '0f:00.0', linux: 'enp15s0', windows: 'PCIROOT(0)#PCI(0500)#PCI(0000)' },
    ],
  },
];
