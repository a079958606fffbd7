/** The command line as text: paste-safe shell, a JSON array, or one argument a line. */

export type ArgvFormat = 'shell' | 'json' | 'lines';

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuote(arg: string): string {
  return arg !== '' && SAFE.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Groups each option with its value: [['-m', '4096M'], ['-nodefaults'], …]. */
export function optionGroups(argv: readonly string[]): string[][] {
  const groups: string[][] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (argv[i].startsWith('-') && next !== undefined && !next.startsWith('-')) {
      groups.push([argv[i], next]);
      i++;
    } else groups.push([argv[i]]);
  }
  return groups;
}

export function formatArgv(binary: string, argv: readonly string[], format: ArgvFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify([binary, ...argv], null, 2) + '\n';
    case 'lines':
      return [binary, ...argv].join('\n') + '\n';
    case 'shell':
      return [shellQuote(binary), ...optionGroups(argv).map((g) => '  ' + g.map(shellQuote).join(' '))].join(' \\\n') + '\n';
  }
}
