import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { startMesh, startNode, waitFor, waitForBuilders, tempDir, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer } from '../helpers/announce.ts'
import { makeSignedSrpms } from '../helpers/srpms.ts'
import { missingTools } from '../helpers/srpm.ts'
import { PoisoningBuilder } from '../helpers/byzantine.ts'
import { rankBySaltedPosition } from '../../src/rules/position.ts'
import { jobKey } from '../../src/rules/job.ts'
import { detectBuilder } from '../../src/builder/index.ts'
import { createAnnouncement } from '../../src/protocols/announce.ts'
import { stringifyTopic } from '../../src/protocols/ids.ts'
import type { SkylineNode } from '../../src/node/index.ts'
import type { VerdictEvent } from '../../src/services/verdicts.ts'

const TARGET = 'fedora-41-x86_64'
/** 2 stage-1 seats, 2 escalation seats, 3 of the 4 decide */
const PANEL = { panel: 2, escalation: 2, threshold: 3, stageMs: 10 * 60_000 }

describe('a seeder gone before the escalation: the escalation seats fetch the SRPM from the stage-1 seats (5 builders)', function () {
  this.timeout(400_000)
  const announcer = testAnnouncer()
  let mesh: TestMesh
  let seeder: SkylineNode | undefined
  let dir: string
  let srpm: { path: string, nevra: string }
  let poisoners: PoisoningBuilder[]
  const verdicts = new Map<SkylineNode, Map<string, VerdictEvent>>()

  before(async function () {
    if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) !== undefined) this.skip()
    dir = tempDir()
    const made = await makeSignedSrpms(dir, 1)
    srpm = made.srpms[0]
    const real = (await detectBuilder('rpmbuild')).builder!
    poisoners = Array.from({ length: 5 }, () => new PoisoningBuilder(real))
    mesh = await startMesh(5, { announcers: [announcer.line], builder: 'rpmbuild', keyring: made.keyPath }, i => ({ builder: poisoners[i] }))
    for (const n of mesh.nodes) {
      const m = new Map<string, VerdictEvent>()
      verdicts.set(n, m)
      n.verdicts.addEventListener('verdict', (e: CustomEvent<VerdictEvent>) => { m.set(e.detail.job, e.detail) })
    }
    await waitForBuilders(mesh.nodes)
    // as `skyline seed` runs: no builder, DHT client mode, no flood publishing
    seeder = await startNode({ announcers: [announcer.line], builder: 'none', bootstrap: [mesh.nodes[0].libp2p.getMultiaddrs()[0].toString()] }, {}, { dhtClientMode: true, floodPublish: false })
  })

  after(async () => {
    await seeder?.stop()
    if (seeder !== undefined) rmSync(seeder.config.dataDir, { recursive: true, force: true })
    await mesh?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('a dissent in stage 1 after the seeder left still ends agreed on every builder', async () => {
    const poisoner = mesh.nodes[3]
    poisoners[3].poison = true
    const m = await seeder!.libp2p.services.blobs.add(srpm.path, { provide: false })
    const sha = Buffer.from(m.sha256, 'hex')
    const builders = mesh.nodes.map(n => n.libp2p.peerId)
    let beacon = randomBytes(32)
    while (!rankBySaltedPosition(jobKey(sha, TARGET, beacon), beacon, builders).slice(0, 2).some(p => p.toString() === poisoner.peerId)) beacon = randomBytes(32)
    await waitFor('builders on the seeder\'s announce topic', () => seeder!.libp2p.services.pubsub.getSubscribers(stringifyTopic('announce')).length > 0, 30_000)
    const checked = await seeder!.announce(createAnnouncement({
      candidates: builders,
      nevra: srpm.nevra,
      srpmSha256: sha,
      srpmSize: m.size,
      target: TARGET,
      panel: PANEL,
      beacon,
      chunkSize: m.chunkSize,
      chunkRoot: Buffer.from(m.root, 'hex'),
      provider: { peer: seeder!.libp2p.peerId, addrs: seeder!.libp2p.getMultiaddrs() }
    }, announcer.key))
    const stage1 = checked.builders.slice(0, 2).map(String)
    const escalation = checked.builders.slice(2, 4).map(String)
    const node = (p: string): SkylineNode => mesh.nodes.find(n => n.peerId === p)!
    // the seeder leaves once stage 1 holds the SRPM, as `skyline seed` does without --verdicts
    await waitFor('stage 1 holding the SRPM', () => stage1.every(p => node(p).libp2p.services.blobs.has(m.sha256)), 60_000, 100)
    await seeder!.stop()
    await waitFor('a final verdict on every builder', () => mesh.nodes.every(n => verdicts.get(n)?.get(checked.job)?.final === true), 240_000, 200)
    for (const p of escalation) assert.ok(node(p).libp2p.services.blobs.has(m.sha256), `escalation seat ${p} has no SRPM`)
    for (const n of mesh.nodes) {
      const v = verdicts.get(n)!.get(checked.job)!
      assert.equal(v.verdict, 'agreed', `${n.peerId}: ${v.verdict}`)
      assert.deepEqual(v.dissenters, [poisoner.peerId])
      assert.ok(v.escalated)
    }
  })
})
