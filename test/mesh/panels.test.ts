import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { startMesh, waitFor, waitForBuilders, tempDir, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer, seedSrpm } from '../helpers/announce.ts'
import { makeSignedSrpms } from '../helpers/srpms.ts'
import { missingTools } from '../helpers/srpm.ts'
import { PoisoningBuilder } from '../helpers/byzantine.ts'
import { rankBySaltedPosition } from '../../src/rules/position.ts'
import { computeStats } from '../../src/rules/stats.ts'
import { createAttestation, encodeConsensusMessage, type CheckedAttestation } from '../../src/protocols/attestation.ts'
import { loadOrCreateIdentity } from '../../src/node/identity.ts'
import { jobKey } from '../../src/rules/job.ts'
import { detectBuilder } from '../../src/builder/index.ts'
import type { SkylineNode } from '../../src/node/index.ts'
import type { VerdictEvent } from '../../src/services/verdicts.ts'
import { RULES_V2 } from '../../src/protocols/announce.ts'

const TARGET = 'fedora-41-x86_64'
/** a small rules-v2 panel: 2 stage-1 seats, 2 escalation seats, 3 of the 4 decide */
const PANEL = { panel: 2, escalation: 2, threshold: 3, stageMs: 10 * 60_000 }

describe('rules v2: a panel with escalation, over real builders (5 nodes)', function () {
  this.timeout(400_000)
  const announcer = testAnnouncer()
  let mesh: TestMesh
  let dir: string
  let srpms: Array<{ path: string, nevra: string }>
  let poisoners: PoisoningBuilder[]
  const verdicts = new Map<SkylineNode, Map<string, VerdictEvent>>()

  before(async function () {
    if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) !== undefined) this.skip()
    dir = tempDir()
    const made = await makeSignedSrpms(dir, 2)
    srpms = made.srpms
    const real = (await detectBuilder('rpmbuild')).builder!
    poisoners = Array.from({ length: 5 }, () => new PoisoningBuilder(real))
    mesh = await startMesh(5, { announcers: [announcer.line], builder: 'rpmbuild', keyring: made.keyPath }, i => ({ builder: poisoners[i] }))
    for (const n of mesh.nodes) {
      const m = new Map<string, VerdictEvent>()
      verdicts.set(n, m)
      n.verdicts.addEventListener('verdict', (e: CustomEvent<VerdictEvent>) => { m.set(e.detail.job, e.detail) })
    }
    await waitForBuilders(mesh.nodes)
  })

  after(async () => {
    await mesh?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('a dissenting stage-1 seat escalates the job: the escalation seats build, T seats agree on the true hash on every node, the dissenter is on the losing side, ejected from the next candidate list, and the throttle does not fire', async () => {
    const seeder = mesh.nodes[0]
    const poisoner = mesh.nodes[3]
    poisoners[3].poison = true
    const m = await seeder.libp2p.services.blobs.add(srpms[0].path)
    const sha = Buffer.from(m.sha256, 'hex')
    // a beacon that seats the poisoner in stage 1 (every node ranks the same list the same way)
    let beacon = randomBytes(32)
    const everyone = mesh.nodes.map(n => n.libp2p.peerId)
    while (!rankBySaltedPosition(jobKey(sha, TARGET, beacon), beacon, everyone).slice(0, 2).some(p => p.toString() === poisoner.peerId)) beacon = randomBytes(32)
    const checked = await seedSrpm(seeder, announcer, srpms[0], { replicas: 0, quorum: 0, target: TARGET, beacon, panel: PANEL })
    assert.equal(checked.builders.length, 4)
    assert.ok(checked.builders.slice(0, 2).some(p => p.toString() === poisoner.peerId))
    await waitFor('a final verdict on every node', () => mesh.nodes.every(n => verdicts.get(n)?.get(checked.job)?.final === true), 300_000, 200)
    const v = verdicts.get(seeder)!.get(checked.job)!
    for (const n of mesh.nodes) {
      const w = verdicts.get(n)!.get(checked.job)!
      assert.deepEqual([w.verdict, w.hash, w.agreeing, w.dissenters], [v.verdict, v.hash, v.agreeing, v.dissenters], `node ${n.peerId} differs`)
    }
    assert.equal(v.verdict, 'agreed')
    assert.equal(v.escalated, true)
    assert.deepEqual(v.dissenters, [poisoner.peerId])
    assert.ok(v.agreeing.length >= PANEL.threshold)
    assert.ok(!v.agreeing.includes(poisoner.peerId))
    assert.ok(seeder.verdicts.ejectedBuilders().includes(poisoner.peerId))
    const next = await seeder.findCandidates(randomBytes(32), 4, { rules: RULES_V2, beacon: randomBytes(32) })
    assert.ok(!next.some(p => p.toString() === poisoner.peerId), 'an ejected builder was listed again')
    for (const n of mesh.nodes) assert.equal(n.verdicts.throttled(), false)
  })
  it('commit, then reveal: a stage-1 seat that never builds copies the first honest reveal it sees; the copy never counts, the copier earns no credit, and the job still ends agreed on the true hash everywhere', async () => {
    const seeder = mesh.nodes[0]
    const copier = mesh.nodes[4]
    poisoners[4].stall = true
    const { privateKey } = await loadOrCreateIdentity(copier.config.dataDir)
    const m = await seeder.libp2p.services.blobs.add(srpms[1].path)
    const sha = Buffer.from(m.sha256, 'hex')
    let beacon = randomBytes(32)
    const everyone = mesh.nodes.map(n => n.libp2p.peerId)
    const ejected = new Set(seeder.verdicts.ejectedBuilders())
    const rank = (b: Buffer): string[] => rankBySaltedPosition(jobKey(sha, TARGET, b), b, everyone).map(String).filter(p => !ejected.has(p))
    while (!rank(beacon).slice(0, 2).includes(copier.peerId)) beacon = randomBytes(32)
    const creditOf = (n: SkylineNode): number => computeStats(n.store.statsInput(), { self: n.peerId, now: Date.now() }).nodes.find(s => s.peerId === copier.peerId)?.credit ?? 0
    const creditBefore = new Map(mesh.nodes.map(n => [n, creditOf(n)]))
    // the copier gossips a copy of the first honest attestation of the job that reaches it
    let copied = false
    copier.verdicts.addEventListener('attestation', (e: CustomEvent<CheckedAttestation>) => {
      const a = e.detail
      if (copied || a.builder === copier.peerId || a.status !== 'ok') return
      copied = true
      const copy = createAttestation({ job: a.job, status: 'ok', files: a.files, environment: a.environment, nonce: randomBytes(32) }, privateKey)
      copier.publish('consensus', encodeConsensusMessage({ attestation: copy })).catch(() => {})
    })
    const checked = await seedSrpm(seeder, announcer, srpms[1], { replicas: 0, quorum: 0, target: TARGET, beacon, panel: { ...PANEL, stageMs: 15_000 } })
    assert.ok(checked.builders.slice(0, 2).some(p => p.toString() === copier.peerId))
    await waitFor('a final verdict on every node', () => mesh.nodes.every(n => verdicts.get(n)?.get(checked.job)?.final === true), 300_000, 200)
    assert.ok(copied, 'the copier saw no honest attestation to copy')
    for (const n of mesh.nodes) {
      const v = verdicts.get(n)!.get(checked.job)!
      assert.equal(v.verdict, 'agreed', `node ${n.peerId}`)
      assert.ok(!v.agreeing.includes(copier.peerId), `node ${n.peerId} counts the copy`)
      assert.equal(n.store.attestation(checked.job, copier.peerId), undefined, `node ${n.peerId} stored the copy`)
      assert.equal(creditOf(n), creditBefore.get(n), `node ${n.peerId} credits the copier`)
    }
    poisoners[4].stall = false
  })
})
