/** What the source checks look at: the resolved machine, before placement. */
import type { MachineSpec } from '../machine-spec.js';

export interface SourceContext {
  readonly machine: MachineSpec;
}
