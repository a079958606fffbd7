/**
 * The import graph's rules, checked by `npm run lint:imports` (and so by `npm test`): no cycle
 * between modules, type-only imports included, in the sources and the specs.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'Modules form layers: a cycle (runtime or type-only) means two modules are one concern or one is misplaced.',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
