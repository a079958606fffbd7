/**
 * The compiler's public entry: compile() and what the CLI, the editor and the prettier plugin
 * use of the compiler. Everything else in compiler/ is internal.
 */
export { compile, type Compilation, type CompileInput, type QemuInfo } from './compile.js';
export { parse } from '../grammar/index.js';
export type { Diagnostic, Span } from '../grammar/index.js';
export { attachmentOf, audiodevTypes, backendProps, catalog, chardevTypes, isTpmModel, machineProps, netdevTypes, tpmModels, type BusKind, type ModelSpec, type Plug, type PropSpec } from './catalog.js';
export { childKeyPin } from './qemu-facts.js';
export { chipsetNames, chipsets, chipsetOfMachineType, DEFAULT_QEMU_BINARY, isChipset, type ChipsetSpec } from './chipsets.js';
export { splitKeyval } from './qemu/keyval.js';
export { emit, escapeOptionValue, type EmitOptions, type StandIns } from './emit.js';
export { resolve, type DeviceSpec, type MachineSpec } from './machine-spec.js';
export { place, type PlaceOptions, type PlaceResult } from './place/index.js';
export { renameDevice, renameInSource, type RenameRequest, type RenameResult, type SourceEdit } from './rename.js';
export { readLock, renameInLock, writeLock, formatGuestAddress, LOCK_FORMAT, type ReadLockResult } from './lockfile.js';
export { hostEffects, describeHostEffect, classifiedOption, splitOption, type HostEffect, type HostEffectKind } from './host-effects.js';
export { comparePlacements, describePlace, type Plan, type DeviceChange } from './plan.js';
export type { Attachment, PlacedDevice, PlacedMachine, GuestAddress, PciAddress, Chipset } from './model.js';
export { formatAddress, parseAddress } from './machine-spec.js';
export { GUEST_RULES, GuestView, guestNamesOf, linuxNicName, noticesFor, windowsLocationPath, type GuestNames, type GuestRule } from './guest-names.js';
export { completionsAt, hoverAt, deviceIdAt, quickFix, modelProperties, describeModel, describeType, type Completion, type CompletionKind, type Completions, type EditorContext, type Hover, type QuickFix } from './editor.js';
export { assertRegistered, diagnose, isRegistered, registry, type RegisteredCode } from './checks/all.js';
export { failures, type CheckPhase, type Failure } from './checks/registry.js';
export { lockValues, sharedValues, takenValues, type LockedFile, type LockValues } from './checks/repo-unique.js';
export { exportLibvirt, type LibvirtExport, type LibvirtExportInput } from './export/libvirt.js';
export { planTopology, shortPlace, topologyOf, walkTopology, type NodeMark, type TopologyNode } from './topology.js';
export { mergeLocks, type LockMerge } from './merge-lock.js';
export { APPROVALS, firmwareChoice, stateFolder, type Approval, type FirmwareChoice, type HostFacts, type HostNeeds } from './vm.js';
export { NVRAM_FILE, TPM_SOCKET, TPM_STATE_DIR, OVMF } from './vm-schema.js';
export type { CpuPin, FirmwarePin, PinnedFile } from './model.js';
export { compareGuestView, describeDevice, describeMismatch, expectedPciId, type GuestPciDevice, type GuestViewComparison, type Mismatch } from './guest-view.js';
export { cpuFlagKeys, cpuModels, smbiosKeys, vmBlocks } from './vm-schema.js';
export { blockTypes } from './catalog.js';
