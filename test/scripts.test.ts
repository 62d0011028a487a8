import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { tempDir } from './helpers/mesh.ts'

const run = promisify(execFile)
const SCRIPTS = resolve(import.meta.dirname, '../scripts')

function alive (pid: number): boolean {
  try {
    // a zombie still answers kill 0; /proc tells it apart
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

describe('scripts/mesh-start.sh and mesh-stop.sh', function () {
  this.timeout(30_000)
  let base: string
  before(() => { base = tempDir('skyline-mesh-script-') })
  after(async () => {
    // whatever happened above, leave no node behind
    await run('bash', [join(SCRIPTS, 'mesh-stop.sh'), '--base-dir', base, '--grace', '2']).catch(() => {})
    rmSync(base, { recursive: true, force: true })
  })

  it('starts 3 nodes that all answer /status with a peer, and stops them all', async () => {
    // any free ports: other tests and meshes may be running on this machine
    const start = await run('bash', [join(SCRIPTS, 'mesh-start.sh'), '3', '--base-dir', base, '--http-base', '0', '--tcp-base', '0', '--timeout', '20'])
    const rows = start.stdout.split('\n').filter(l => /^node-\d+ /.test(l))
    assert.equal(rows.length, 3, start.stdout)
    const pids: number[] = []
    const ids = new Set<string>()
    for (const row of rows) {
      const [, pid, peerId, url] = row.trim().split(/\s+/)
      pids.push(Number(pid))
      const status = await (await fetch(`${url}/status`)).json() as { peerId: string, connectedPeers: number }
      assert.equal(status.peerId, peerId)
      assert.ok(status.connectedPeers >= 1, `${row}: no peers`)
      ids.add(peerId)
    }
    assert.equal(ids.size, 3)
    assert.ok(pids.every(alive))

    // a second start finds the mesh running and starts nothing
    const again = await run('bash', [join(SCRIPTS, 'mesh-start.sh'), '3', '--base-dir', base, '--http-base', '0', '--tcp-base', '0', '--timeout', '20'])
    assert.match(again.stdout, /started 0/)

    const stop = await run('bash', [join(SCRIPTS, 'mesh-stop.sh'), '--base-dir', base])
    assert.equal(stop.stdout.match(/stopped$/gm)?.length, 3, stop.stdout)
    assert.ok(pids.every(pid => !alive(pid)), 'a node survived mesh-stop')
    assert.deepEqual(readdirSync(base).filter(d => existsSync(join(base, d, 'node.pid'))), [])
    assert.match(readFileSync(join(base, 'node-1', 'node.log'), 'utf8'), /SIGTERM: stopping\nstopped/)

    // stopping again is harmless
    const twice = await run('bash', [join(SCRIPTS, 'mesh-stop.sh'), '--base-dir', base])
    assert.match(twice.stdout, /no node running/)
  })
})
