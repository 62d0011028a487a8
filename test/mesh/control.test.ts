import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { startMesh, waitFor, tempDir, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer, seedSrpm } from '../helpers/announce.ts'
import { makeSignedSrpm, missingTools } from '../helpers/srpm.ts'
import { createControl } from '../../src/protocols/control.ts'
import type { JobEvent } from '../../src/services/jobs.ts'
import type { SkylineNode } from '../../src/node/index.ts'

describe('halt and resume', function () {
  this.timeout(120_000)
  const announcer = testAnnouncer()
  const stranger = testAnnouncer()
  let mesh: TestMesh
  let dir: string
  let srpm: Awaited<ReturnType<typeof makeSignedSrpm>>
  const events: JobEvent[] = []

  before(async function () {
    if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) !== undefined) this.skip()
    dir = tempDir()
    srpm = await makeSignedSrpm(join(dir, 'srpm'))
    mesh = await startMesh(5, { announcers: [announcer.line], builder: 'rpmbuild', keyring: srpm.keyPath })
    for (const n of mesh.nodes) n.jobs.addEventListener('job', (e: CustomEvent<JobEvent>) => events.push(e.detail))
    await waitFor('control meshes', () => mesh.nodes.every(n => n.status().topics['/skyline/2/control'].meshPeers.length >= 2))
  })
  after(async () => {
    await mesh?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  const announce = async (node: SkylineNode): Promise<string> => (await seedSrpm(node, announcer, { path: srpm.srpmPath, nevra: srpm.nevra }, { replicas: 3, quorum: 2 })).job

  it('a signed halt reaches every node within 2 seconds, and then no node takes a new job', async () => {
    const t0 = performance.now()
    await mesh.nodes[2].control(createControl({ action: 'halt', reason: 'test: fall back to Koji' }, announcer.key))
    await waitFor('every node halted', () => mesh.nodes.every(n => n.halted !== undefined), 2000, 10)
    const elapsed = performance.now() - t0
    assert.ok(elapsed < 2000, `${elapsed} ms`)
    for (const n of mesh.nodes) assert.equal(n.status().halted?.reason, 'test: fall back to Koji')

    const job = await announce(mesh.nodes[0])
    await new Promise(resolve => setTimeout(resolve, 3000))
    assert.deepEqual(events.filter(e => e.job === job), [], 'a job was taken during the halt')
  })

  it('a halt or resume signed by an untrusted key changes nothing', async () => {
    // the stranger's resume must not lift the halt
    await assert.rejects(mesh.nodes[1].control(createControl({ action: 'resume' }, stranger.key)), { name: 'GossipValidationError' })
    await mesh.nodes[1].publish('control', createControl({ action: 'resume', reason: 'forged' }, stranger.key))
    await new Promise(resolve => setTimeout(resolve, 1500))
    assert.ok(mesh.nodes.every(n => n.halted !== undefined))
  })

  it('a signed resume lets nodes take jobs again; replaying the old halt changes nothing', async () => {
    await mesh.nodes[3].control(createControl({ action: 'resume', reason: 'fixed' }, announcer.key))
    await waitFor('every node resumed', () => mesh.nodes.every(n => n.halted === undefined), 2000, 10)
    // an old halt replayed (re-signed earlier in time) is superseded by the resume
    await mesh.nodes[4].publish('control', createControl({ action: 'halt', reason: 'stale', now: Date.now() - 60_000 }, announcer.key))
    await new Promise(resolve => setTimeout(resolve, 1000))
    assert.ok(mesh.nodes.every(n => n.halted === undefined))
    const job = await announce(mesh.nodes[0])
    await waitFor('3 builds after the resume', () => events.filter(e => e.job === job && e.state === 'built').length === 3, 60_000)
  })
})
