import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { peerIdFromString } from '@libp2p/peer-id'
import { startMesh, waitFor, waitForBuilders, tempDir, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer, seedSrpm } from '../helpers/announce.ts'
import { makeSignedSrpms } from '../helpers/srpms.ts'
import { missingTools } from '../helpers/srpm.ts'
import { assignBuilders } from '../../src/rules/assignment.ts'
import type { JobEvent } from '../../src/services/jobs.ts'
import type { BuildRecord } from '../../src/store/store.ts'

const NODES = 12
const R = 3
const JOBS = 20

describe(`builders: ${NODES} nodes, r = ${R}, ${JOBS} SRPMs`, function () {
  this.timeout(300_000)
  const missing = missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap'])
  const announcer = testAnnouncer()
  let mesh: TestMesh
  let dir: string
  let srpms: Array<{ path: string, nevra: string }>
  const started = new Map<string, Set<string>>() // job -> peers that started it
  const built = new Map<string, BuildRecord[]>() // job -> build records

  before(async function () {
    if (missing !== undefined) this.skip()
    dir = tempDir()
    const made = await makeSignedSrpms(dir, JOBS)
    srpms = made.srpms
    mesh = await startMesh(NODES, { announcers: [announcer.line], builder: 'rpmbuild', keyring: made.keyPath })
    for (const n of mesh.nodes) {
      assert.equal(n.builder?.kind, 'rpmbuild', n.builderNote)
      n.jobs.addEventListener('job', (e: CustomEvent<JobEvent>) => {
        if (e.detail.state !== 'fetching') return
        if (!started.has(e.detail.job)) started.set(e.detail.job, new Set())
        started.get(e.detail.job)!.add(n.peerId)
      })
      n.jobs.addEventListener('built', (e: CustomEvent<{ record: BuildRecord }>) => {
        const r = e.detail.record
        if (!built.has(r.job)) built.set(r.job, [])
        built.get(r.job)!.push(r)
      })
    }
    await waitForBuilders(mesh.nodes)
  })

  after(async () => {
    await mesh?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('exactly the 3 nodes closest to each job key build it, and their build hashes agree', async () => {
    const all = mesh.nodes.map(n => peerIdFromString(n.peerId))
    const jobs: Array<{ job: string, nevra: string }> = []
    for (let i = 0; i < srpms.length; i++) {
      const seeder = mesh.nodes[i % NODES]
      jobs.push({ job: (await seedSrpm(seeder, announcer, srpms[i], { replicas: R, quorum: 2 })).job, nevra: srpms[i].nevra })
    }
    await waitFor(`${JOBS * R} builds`, () => jobs.every(j => (built.get(j.job)?.length ?? 0) >= R), 240_000, 250)
    const perNode = new Map<string, number>(mesh.nodes.map(n => [n.peerId, 0]))
    for (const { job, nevra } of jobs) {
      const expected = assignBuilders(Buffer.from(job, 'hex'), all, R).map(String).sort()
      assert.deepEqual([...(started.get(job) ?? [])].sort(), expected, `${nevra}: wrong builders`)
      const records = built.get(job)!
      assert.equal(records.length, R)
      assert.ok(records.every(r => r.status === 'ok'), `${nevra}: ${records.map(r => r.logExcerpt).join(' | ')}`)
      assert.equal(new Set(records.map(r => r.buildHash)).size, 1, `${nevra}: build hashes differ`)
      for (const p of expected) perNode.set(p, perNode.get(p)! + 1)
    }
    const counts = [...perNode.values()]
    const mean = (JOBS * R) / NODES
    console.log(`      spread of ${JOBS * R} builds over ${NODES} nodes: ${counts.sort((a, b) => b - a).join(' ')} (max/mean ${(Math.max(...counts) / mean).toFixed(2)})`)
  })
})
