/**
 * The layers of src/ and the one direction imports run in (docs/architecture.md):
 *
 *   cli → node → services → { protocols, store, builder, rpm } → rules
 *
 * `npm run depcheck` fails on an import circle or on an import that runs up a layer.
 */
const LAYERS = [
  { name: 'rules', path: '^src/rules/' },
  { name: 'protocols', path: '^src/protocols/' },
  { name: 'store', path: '^src/store/' },
  { name: 'builder', path: '^src/builder/' },
  { name: 'rpm', path: '^src/rpm/' },
  { name: 'services', path: '^src/services/' },
  { name: 'node', path: '^src/node/' },
  { name: 'cli', path: '^src/cli/' }
]

/** what each layer may not import: every layer above it */
const ABOVE = {
  rules: ['protocols', 'store', 'builder', 'rpm', 'services', 'node', 'cli'],
  protocols: ['store', 'builder', 'services', 'node', 'cli'],
  store: ['builder', 'services', 'node', 'cli'],
  builder: ['protocols', 'store', 'services', 'node', 'cli'],
  rpm: ['protocols', 'store', 'builder', 'services', 'node', 'cli'],
  services: ['node', 'cli'],
  node: ['cli'],
  cli: []
}

const path = name => LAYERS.find(l => l.name === name).path

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'an import circle: the files in it cannot be understood, tested or loaded one without the others',
      from: { path: '^src/' },
      to: { circular: true }
    },
    ...Object.entries(ABOVE).filter(([, above]) => above.length > 0).map(([layer, above]) => ({
      name: `no-upward-from-${layer}`,
      severity: 'error',
      comment: `src/${layer} may not import ${above.map(a => `src/${a}`).join(', ')}: imports run down the layers only`,
      from: { path: path(layer) },
      to: { path: above.map(path) }
    }))
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] }
  }
}
