import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { startNode, tempDir, waitFor } from '../helpers/mesh.ts'
import { testAnnouncer, seedSrpm } from '../helpers/announce.ts'
import { makeSignedSrpm, missingTools } from '../helpers/srpm.ts'
import { startCli, collect } from '../helpers/cli.ts'
import type { SkylineNode, NodeStatus } from '../../src/node/index.ts'

const READY = /skyline node (\S+)[\s\S]*listening on (\S+)[\s\S]*status at (http:\/\/\S+)\/status/

async function status (url: string): Promise<NodeStatus> {
  return await (await fetch(`${url}/status`)).json() as NodeStatus
}

describe('the job queue survives kill -9', function () {
  this.timeout(180_000)
  let dir: string
  let seeder: SkylineNode | undefined

  before(function () { if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) !== undefined) this.skip() })
  after(async () => {
    await seeder?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('a build interrupted by kill -9 is redone after the restart; the store stays intact; no build process is left', async () => {
    dir = tempDir()
    const announcer = testAnnouncer()
    writeFileSync(join(dir, 'announcer.pub'), announcer.line + '\n')
    // %build sleeps 7 s: long enough to be caught in the middle
    const srpm = await makeSignedSrpm(join(dir, 'srpm'), { spec: 'skyline-slow', substitutions: { SECONDS: '7' } })
    const dataDir = join(dir, 'node')
    const args = ['node', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0', '--builder', 'rpmbuild', '--keyring', srpm.keyPath, '--announcer', join(dir, 'announcer.pub')]
    const first = await startCli(args, READY)
    const url = first.match[3]
    seeder = await startNode({ announcers: [announcer.line], builder: 'none', bootstrap: [first.match[2]] })
    await waitFor('the seeder to see the builder subscribed', () => seeder!.status().topics['/skyline/2/announce'].subscribers > 0)
    const { job } = await seedSrpm(seeder, announcer, { path: srpm.srpmPath, nevra: srpm.nevra }, { replicas: 1, quorum: 1 })

    await waitFor('the build to be under way', async () => (await status(url)).jobs.some(j => j.job === job && j.state === 'building'), 60_000, 100)
    await new Promise(resolve => setTimeout(resolve, 1000)) // well inside %build
    first.child.kill('SIGKILL')
    await collect(first.child, 10_000)

    // the store is intact and still knows the job, mid-build
    const db = new DatabaseSync(join(dataDir, 'skyline.db'))
    assert.equal((db.prepare('PRAGMA integrity_check').get() as any).integrity_check, 'ok')
    assert.equal((db.prepare('SELECT state FROM jobs WHERE job = ?').get(job) as any).state, 'building')
    db.close()
    // bwrap --die-with-parent took the build down with the node
    await waitFor('no build process left', () => {
      try { execFileSync('pgrep', ['-f', 'sleeping 7|sleep 7']); return false } catch { return true }
    }, 10_000)

    const second = await startCli(args, READY)
    try {
      const url2 = second.match[3]
      await waitFor('the job to be built after the restart', async () => (await status(url2)).jobs.some(j => j.job === job && j.state === 'built'), 90_000, 250)
      const db2 = new DatabaseSync(join(dataDir, 'skyline.db'))
      const row = db2.prepare('SELECT attempts FROM jobs WHERE job = ?').get(job) as any
      const build = db2.prepare('SELECT status, build_hash FROM builds WHERE job = ?').get(job) as any
      assert.equal(row.attempts, 2)
      assert.equal(build.status, 'ok')
      assert.match(build.build_hash, /^[0-9a-f]{64}$/)
      assert.equal((db2.prepare('SELECT count(*) AS n FROM jobs').get() as any).n, 1)
      db2.close()
    } finally {
      second.child.kill('SIGTERM')
      await collect(second.child, 15_000)
    }
  })
})
