/** The real-QEMU layer: launch QEMU, talk QMP, read what the guest sees, query the binary. */
export { QmpClient, QmpError, connectQmp, type QmpEvent, type QmpGreeting, type QmpConnectOptions } from './qmp.js';
export { launchQemu, withQemu, QemuLaunchError, type LaunchOptions, type QemuHandle } from './launch.js';
export {
  readGuestView,
  waitForStableGuestView,
  flattenQueryPci,
  describeDevice,
  findByQdevId,
  type GuestPciDevice,
  type StableGuestView,
  type StableViewOptions,
  type QmpPciBus,
  type QmpPciDevice,
} from './guest-view.js';
export {
  listMachineTypes,
  parseMachineHelp,
  resolveMachineType,
  qemuVersion,
  parseQemuVersion,
  findQemu,
  DEFAULT_QEMU,
  type MachineTypes,
  type QemuVersion,
} from './machine-types.js';
