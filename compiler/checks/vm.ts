/**
 * Checks of the VM-wide properties (cpu, topology, firmware, display, serial, smbios, qemu-args,
 * state) and of the VM devices' own rules (one TPM, port forwards, acpi-index). Part of the source
 * checks (compiler/checks/source.ts), in the one registry (compiler/checks/all.ts): each id is the
 * code of what it reports.
 */
import type { Property } from '../../grammar/index.js';
import { tpmModels, type PropSpec } from '../catalog.js';
import { chipsetNames, chipsets } from '../chipsets.js';
import type { Check, Report } from './registry.js';
import type { SourceContext } from './source-context.js';
import type { MachineSpec } from '../machine-spec.js';
import { cpuFlagKeys, cpuModels, topologyKeys, vmBlocks } from '../vm-schema.js';
import { blockProps, member, typeOf } from '../vm.js';
import { didYouMean } from '../suggest.js';

/** The keys of the VM-wide blocks, with their schemas: the property checks judge them as they judge a device's. */
export function vmBlockUses(machine: MachineSpec): { props: readonly Property[]; allowed: Readonly<Record<string, PropSpec>>; where: string }[] {
  const out: { props: readonly Property[]; allowed: Readonly<Record<string, PropSpec>>; where: string }[] = [];
  for (const key of Object.keys(vmBlocks)) {
    if (key === 'display') continue; // judged with the typed blocks, by the catalog's schema
    const v = machine.properties.get(key)?.value;
    const type = typeOf(v);
    if (v?.kind !== 'Block' || type === undefined || !Object.hasOwn(vmBlocks[key].types, type)) continue;
    out.push({ props: v.properties, allowed: vmBlocks[key].types[type], where: type ? `${key} ${type}` : key });
  }
  const cpu = machine.properties.get('cpu')?.value;
  if (cpu?.kind === 'Block') out.push({ props: cpu.properties, allowed: cpuFlagKeys, where: `cpu ${cpu.type?.name ?? ''}` });
  return out;
}

/** `vnc { … }`, `{ … }`, `none`: the type is one the schema knows. */
function checkBlockType(ctx: SourceContext, report: Report, key: string): void {
  const schema = vmBlocks[key];
  const v = ctx.machine.properties.get(key)?.value;
  if (!v || (v.kind !== 'Identifier' && v.kind !== 'Block')) return;
  const type = typeOf(v)!;
  if (!Object.hasOwn(schema.types, type)) {
    const named = Object.keys(schema.types).filter(Boolean);
    if (named.length === 0) report(`${key} takes a block without a type`, v.kind === 'Block' ? v.type!.span : v.span, `write \`${schema.doc}\``);
    else if (type === '') report(`${key} needs a type before its block`, v.span, `write \`${key} = ${named[0]} { … }\`; one of ${named.join(', ')}`);
    else report(`${key} ${type} is not one machinec knows`, v.kind === 'Block' ? v.type!.span : v.span, didYouMean(type, named) ?? `one of ${named.join(', ')}`);
    return;
  }
  if (v.kind === 'Identifier' && !schema.bare) report(`${key} takes a block`, v.span, schema.doc);
}

const TOPOLOGY_KEYS = Object.keys(topologyKeys);

const HOSTFWD = /^(tcp|udp):([0-9.]*|\[[0-9a-fA-F:.]*\]):(\d{1,5})-([0-9.]*):(\d{1,5})$/;

function hostfwdProblem(rule: string): string | undefined {
  const m = HOSTFWD.exec(rule);
  if (!m) return 'a forward is "tcp::HOSTPORT-:GUESTPORT" (or udp, with optional addresses: "tcp:127.0.0.1:2222-10.0.2.15:22")';
  if ([m[3], m[5]].some((p) => Number(p) < 1 || Number(p) > 65535)) return 'ports are 1 to 65535';
  return undefined;
}

const netdevBlocks = (ctx: SourceContext) =>
  ctx.machine.devices.flatMap((d) => {
    const v = member(d.node.properties, 'netdev');
    return v?.kind === 'Block' ? [{ d, v }] : [];
  });

export const vmChecks: readonly Check<SourceContext>[] = [
  {
    id: 'vm-block-type',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const key of Object.keys(vmBlocks)) checkBlockType(ctx, report, key);
    },
  },
  {
    id: 'unknown-cpu-model',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      const v = ctx.machine.properties.get('cpu')?.value;
      if (!v || (v.kind !== 'Identifier' && v.kind !== 'Block' && v.kind !== 'String')) return;
      const model = typeOf(v)!;
      const span = v.kind === 'Block' ? (v.type ?? v).span : v.span;
      if (!cpuModels.includes(model)) report(model ? `unknown CPU model ${model}` : 'cpu needs a model before its block', span, didYouMean(model, cpuModels) ?? `see \`${chipsets[ctx.machine.chipset].qemuBinary} -cpu help\` for the models; host and max follow the host`);
    },
  },
  {
    id: 'topology-cpus',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      const v = ctx.machine.properties.get('topology')?.value;
      if (v?.kind !== 'Block' || v.type || v.properties.some((p) => !TOPOLOGY_KEYS.includes(p.key.name))) return;
      const n = (k: string) => { const x = member(v.properties, k); return x?.kind === 'Integer' ? x.value : 1; };
      const product = TOPOLOGY_KEYS.reduce((acc, k) => acc * n(k), 1);
      const cpus = ctx.machine.properties.get('cpus')?.value;
      if (cpus?.kind === 'Integer' && cpus.value !== product) {
        report(`cpus = ${cpus.value}, but the topology has ${TOPOLOGY_KEYS.map(n).join(' × ')} = ${product} CPUs`, cpus.span, `QEMU needs sockets × dies × cores × threads = cpus: set \`cpus = ${product}\` or change the topology`);
      }
    },
  },
  {
    id: 'secure-boot-chipset',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      const v = ctx.machine.properties.get('firmware')?.value;
      const sb = member(blockProps(v), 'secure-boot');
      const able = chipsetNames.filter((c) => chipsets[c].secureBoot).join(' or ');
      if (sb?.kind === 'Boolean' && sb.value && !chipsets[ctx.machine.chipset].secureBoot) report(`secure boot needs a ${able} machine (SMM), this one is ${ctx.machine.chipset}`, sb.span, `set \`chipset = ${able}\`, or \`secure-boot = false\``);
    },
  },
  {
    id: 'qemu-args',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      const v = ctx.machine.properties.get('qemu-args')?.value;
      if (v?.kind === 'List') for (const item of v.items) if (item.kind !== 'String') report('qemu-args: every item is a string, as QEMU gets it', item.span, 'quote it: `qemu-args = ["-global", "ICH9-LPC.disable_s3=1"]`');
    },
  },
  {
    id: 'one-device',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const group of [tpmModels, ['vmgenid']]) {
        const found = ctx.machine.devices.filter((d) => group.includes(d.model));
        for (const d of found.slice(1)) report(`a machine has at most one ${group.join(' or ')}; ${found[0].id} is already one`, d.modelSpan, `remove ${d.id}`);
      }
    },
  },
  {
    id: 'hostfwd-format',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const { v } of netdevBlocks(ctx)) {
        const fwd = v.properties.find((p: Property) => p.key.name === 'hostfwd')?.value;
        if (!fwd) continue;
        if (v.type?.name !== 'user') report('hostfwd is a user netdev\'s', fwd.span, 'use `netdev = user { hostfwd = [...] }`');
        const items = fwd.kind === 'List' ? fwd.items : [fwd];
        for (const item of items) {
          const problem = item.kind === 'String' ? hostfwdProblem(item.value) : 'a forward is a string';
          if (problem) report(item.kind === 'String' ? `bad port forward "${item.value}"` : 'bad port forward', item.span, problem);
        }
      }
    },
  },
  {
    id: 'acpi-index',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      const seen = new Map<number, string>();
      for (const d of ctx.machine.devices) {
        const v = member(d.node.properties, 'acpi-index');
        if (!v) continue;
        if (v.kind !== 'Integer') continue; // auto, or a wrong type the property check reports
        const other = seen.get(v.value);
        if (other) report(`${d.id} and ${other} both have acpi-index ${v.value}`, v.span, 'each device needs its own index (QEMU refuses two); `acpi-index = auto` picks a free one');
        seen.set(v.value, d.id);
      }
    },
  },
];
