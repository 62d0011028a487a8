/**
 * The production bundle (`npm run build`, scripts/build.ts), what bin/skyline runs: a relay node started
 * from dist/cli/main.js answers /api/status, loads no file but the bundle's own (no node_modules/, no
 * src/), leaves the OpenPGP chunk unloaded, and loads no undici (an ESM import of node:http would).
 * Builds the bundle first when dist/ is missing or older than src/.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { collect } from '../helpers/cli.ts'

const ROOT = resolve(import.meta.dirname, '../..')
const DIST = join(ROOT, 'dist')
const OPENPGP_MARK = 'versionString:"OpenPGP.js'

/** Records every file the process loads and, at exit, the built-in modules it loaded */
const PROBE = `
import { registerHooks } from 'node:module'
import { appendFileSync, writeFileSync } from 'node:fs'
const out = process.env.SKYLINE_PROBE_OUT
registerHooks({ load (url, ctx, next) { if (url.startsWith('file:')) appendFileSync(out + '.files', url + '\\n'); return next(url, ctx) } })
process.on('exit', () => writeFileSync(out + '.builtins', process.moduleLoadList.join('\\n')))`

function bundleIsFresh (): boolean {
  if (!existsSync(join(DIST, '.stamp')) || !existsSync(join(DIST, 'cli/main.js'))) return false
  return execFileSync('find', [join(ROOT, 'src'), '-newer', join(DIST, '.stamp'), '-print', '-quit'], { encoding: 'utf8' }).trim() === ''
}

describe('the production bundle', function () {
  this.timeout(120_000)
  let dir: string

  before(() => {
    if (!bundleIsFresh()) execFileSync(process.execPath, [join(ROOT, 'scripts/build.ts')], { cwd: ROOT, stdio: 'inherit' })
    dir = mkdtempSync(join(tmpdir(), 'skyline-bundle-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('starts a relay node that answers /api/status and loads nothing but the bundle', async () => {
    const probe = join(dir, 'probe')
    const args = ['--disable-warning=ExperimentalWarning', '--import', `data:text/javascript,${encodeURIComponent(PROBE)}`, join(DIST, 'cli/main.js'),
      'node', '--data-dir', join(dir, 'node'), '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0', '--builder', 'none', '--metered', 'ignore']
    const child = spawn(process.execPath, args, { env: { ...process.env, SKYLINE_PROBE_OUT: probe }, stdio: ['ignore', 'pipe', 'pipe'] })
    const done = collect(child, 60_000)
    let stdout = ''
    const http = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (b: Buffer) => {
        stdout += b.toString()
        const m = /dashboard at (http:\/\/127\.0\.0\.1:\d+)\//.exec(stdout)
        if (m !== null) resolve(m[1])
      })
      child.once('exit', code => reject(new Error(`exited (${code}) before it served: ${stdout}`)))
    })
    const status = await (await fetch(`${http}/api/status`, { signal: AbortSignal.timeout(10_000) })).json() as { peerId: string, version: string, connectedPeers: number }
    child.kill('SIGTERM')
    const result = await done
    assert.equal(result.code, 0, result.stderr)
    assert.match(status.peerId, /^12D3KooW/)
    assert.equal(status.version, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version)
    assert.equal(status.connectedPeers, 0)

    const files = readFileSync(probe + '.files', 'utf8').trim().split('\n').map(u => fileURLToPath(u))
    const outside = files.filter(f => !f.startsWith(DIST + '/'))
    assert.deepEqual(outside, [], 'the bundle loads files from outside dist/')
    assert.ok(files.length < 30, `${files.length} files loaded`)
    assert.ok(files.every(f => !readFileSync(f, 'utf8').includes(OPENPGP_MARK)), 'a relay node loads the OpenPGP chunk')
    const builtins = readFileSync(probe + '.builtins', 'utf8').split('\n')
    assert.ok(builtins.includes('NativeModule http'), 'the probe sees built-in modules')
    assert.ok(!builtins.some(m => /undici|http2/.test(m)), 'undici or http2 is loaded')
  })

  it('holds the OpenPGP verifier in a chunk of its own', () => {
    const chunks = readdirSync(join(DIST, 'cli/chunks')).filter(f => readFileSync(join(DIST, 'cli/chunks', f), 'utf8').includes(OPENPGP_MARK))
    assert.equal(chunks.length, 1, `chunks with OpenPGP.js: ${chunks.join(' ')}`)
  })
})
