/**
 * What a node loads at start: OpenPGP.js (over a megabyte of source, a few MB of RSS) only when it has a
 * keyring to verify packages with (src/node/node.ts imports the verifier lazily); a relay node, or the
 * CLI's `skyline node` before it reads its config, does not load it. Checked with module resolve hooks
 * in a fresh Node process.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { resolve } from 'node:path'

const ROOT = resolve(import.meta.dirname, '../..')

/** The package names a fresh process resolves while importing `modules` */
function loadedPackages (modules: string[]): string[] {
  const script = `
    import { registerHooks } from 'node:module'
    const seen = new Set()
    registerHooks({ resolve (spec, ctx, next) { const r = next(spec, ctx); const m = /node_modules\\/((@[^/]+\\/)?[^/]+)/.exec(r.url); if (m) seen.add(m[1]); return r } })
    for (const m of ${JSON.stringify(modules)}) await import(m)
    process.stdout.write(JSON.stringify([...seen]))`
  return JSON.parse(execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' }))
}

describe('lazy loading', function () {
  this.timeout(60_000)
  it('a node does not load OpenPGP.js until it has a keyring', () => {
    const loaded = loadedPackages([resolve(ROOT, 'src/node/index.ts'), resolve(ROOT, 'src/cli/commands/node.ts')])
    assert.ok(loaded.includes('libp2p'), `the hook sees packages: ${loaded.join(' ')}`)
    assert.ok(!loaded.includes('openpgp'), 'openpgp is loaded at start')
    assert.ok(loadedPackages([resolve(ROOT, 'src/rpm/index.ts')]).includes('openpgp'), 'the verifier loads it')
  })
})
