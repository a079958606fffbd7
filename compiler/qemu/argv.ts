/** The QEMU command line, printed from the machine model. */
import { deviceValue, optionValue, type QemuModel } from './model.js';

export function printArgv(model: QemuModel): string[] {
  const argv: string[] = [];
  for (const a of model.args) {
    if (a.kind === 'raw') argv.push(...a.args);
    else if (a.kind === 'device') argv.push('-device', deviceValue(a));
    else {
      const value = optionValue(a);
      argv.push(a.kind === 'backend' ? `-${a.option}` : a.option);
      if (value !== undefined) argv.push(value);
    }
  }
  return argv;
}
