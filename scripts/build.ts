/**
 * `npm run build`: the production build, bin/skyline's entry point when it is up to date. esbuild bundles
 * src/cli/main.ts and the libp2p stack into dist/cli/main.js (minified ESM) and its chunks in
 * dist/cli/chunks/: each subcommand and each lazy import (the OpenPGP verifier) is a chunk of its own,
 * loaded only when it is used. One bundle instead of ~775 module files saves a node ~10 MB of RSS (the
 * loader's records, the source text and bytecode of every file: docs/bench.md "Full RSS"). The RPM spec
 * builds dist/ file by file with tsc (tsconfig.build.json) instead. bin/skyline runs the bundle while
 * dist/.stamp is newer than src/ and the installed dependencies (the bundle holds their code).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, relative, resolve, sep } from 'node:path'
import { builtinModules } from 'node:module'
import { build, type Metafile, type Plugin } from 'esbuild'

const ROOT = resolve(import.meta.dirname, '..')
const OUT = resolve(ROOT, 'dist')

/**
 * Node's built-in modules through require(), not import. An ESM import of a built-in builds its module
 * namespace, which reads every export, and so runs the lazy getters behind them: `import ... from
 * 'node:http'` loads undici (fetch, WebSocket) and http2 for http's WebSocket and MessageEvent exports,
 * which a node never uses (13 MB of RSS in a bare process, 1-2 MB in a node, which loads much of the same
 * anyway). require() returns the exports object; the bundle reads only the names it uses, when it uses them.
 */
const builtinsByRequire: Plugin = {
  name: 'builtins-by-require',
  setup (b) {
    const builtins = new Set(builtinModules)
    b.onResolve({ filter: /^[a-z_/0-9:]+$/ }, args => {
      const name = args.path.replace(/^node:/, '')
      if (!builtins.has(name) && !builtinModules.includes(args.path)) return undefined
      const path = args.path.startsWith('node:') ? args.path : `node:${name}`
      // the shim's own require(), and CommonJS dependencies' require() calls, stay as they are
      if (args.kind === 'require-call' || args.namespace === 'builtin') return { path, external: true }
      return { path, namespace: 'builtin' }
    })
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, args => ({ contents: `module.exports = require(${JSON.stringify(args.path)})`, loader: 'js' }))
  }
}

/**
 * import.meta.dirname of a bundled module is the directory of the chunk it lands in: the sources that
 * use it (paths relative to the source tree) must land at the same depth (src/cli/x/ → dist/cli/chunks/).
 */
function checkDirnameUses (metafile: Metafile): void {
  for (const [output, { inputs }] of Object.entries(metafile.outputs)) {
    for (const input of Object.keys(inputs)) {
      if (!input.startsWith('src/') || !readFileSync(resolve(ROOT, input), 'utf8').includes('import.meta.dirname')) continue
      const depth = (path: string): number => dirname(relative(ROOT, resolve(ROOT, path))).split(sep).length
      if (depth(input) !== depth(output)) throw new Error(`${input} uses import.meta.dirname but lands in ${output}, at another depth`)
    }
  }
}

rmSync(OUT, { recursive: true, force: true })
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: ['src/cli/main.ts'],
  outdir: 'dist/cli',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  minify: true,
  format: 'esm',
  platform: 'node',
  target: 'node22.18',
  // CommonJS dependencies (prom-client and others) call require() for Node's built-in modules
  banner: { js: 'import { createRequire as __skylineRequire } from \'node:module\'; const require = __skylineRequire(import.meta.url);' },
  plugins: [builtinsByRequire],
  metafile: true,
  logLevel: 'warning'
})
checkDirnameUses(result.metafile)
writeFileSync(resolve(OUT, '.stamp'), '')
