import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { startMesh, startNode, waitFor, waitForBuilders, tempDir, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer, seedSrpm } from '../helpers/announce.ts'
import { makeSignedSrpms } from '../helpers/srpms.ts'
import { missingTools } from '../helpers/srpm.ts'
import { rankBySaltedPosition } from '../../src/rules/position.ts'
import { computeStats } from '../../src/rules/stats.ts'
import { jobKey } from '../../src/rules/job.ts'
import type { CheckedAnnouncement } from '../../src/protocols/announce.ts'
import { createAttestation, createCommitment, encodeConsensusMessage } from '../../src/protocols/attestation.ts'
import { loadOrCreateIdentity } from '../../src/node/identity.ts'
import type { SkylineNode } from '../../src/node/index.ts'
import type { VerdictEvent } from '../../src/services/verdicts.ts'

const TARGET = 'fedora-41-x86_64'
/** a small rules-v2 panel: 4 stage-1 seats, 1 escalation seat, all 5 decide an escalated job */
const PANEL = { panel: 4, escalation: 1, threshold: 5, stageMs: 10 * 60_000 }
/** one agreed build makes a builder eligible; one probation seat */
const POLICY = { builds: 1, days: 0, probation: 1 }

type Detail = VerdictEvent & { probation?: string[], probationAgreeing?: string[], credited?: string[] }

describe('rules v2: the eligible set and probation seats, over real builders (5 nodes)', function () {
  this.timeout(400_000)
  const announcer = testAnnouncer()
  let mesh: TestMesh
  let dir: string
  let srpms: Array<{ path: string, nevra: string }>
  let keyPath: string
  let stranger: SkylineNode | undefined
  const verdicts = new Map<SkylineNode, Map<string, Detail>>()

  before(async function () {
    if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) !== undefined) this.skip()
    dir = tempDir()
    const made = await makeSignedSrpms(dir, 4)
    srpms = made.srpms
    keyPath = made.keyPath
    mesh = await startMesh(5, { announcers: [announcer.line], builder: 'rpmbuild', keyring: made.keyPath })
    for (const n of mesh.nodes) {
      const m = new Map<string, Detail>()
      verdicts.set(n, m)
      n.verdicts.addEventListener('verdict', (e: CustomEvent<VerdictEvent>) => { m.set(e.detail.job, e.detail) })
    }
    await waitForBuilders(mesh.nodes)
  })

  after(async () => {
    await stranger?.stop()
    if (stranger !== undefined) rmSync(stranger.config.dataDir, { recursive: true, force: true })
    await mesh?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  /** A beacon for `srpm` under which `want` holds the given ranks among every node */
  async function beaconWhere (srpm: { path: string }, want: (ranked: string[]) => boolean, nodes = mesh.nodes): Promise<Uint8Array> {
    const m = await mesh.nodes[0].libp2p.services.blobs.add(srpm.path)
    const sha = Buffer.from(m.sha256, 'hex')
    const everyone = nodes.map(n => n.libp2p.peerId)
    for (;;) {
      const beacon = randomBytes(32)
      if (want(rankBySaltedPosition(jobKey(sha, TARGET, beacon), beacon, everyone).map(String))) return beacon
    }
  }

  async function finalEverywhere (checked: CheckedAnnouncement, done: (v: Detail) => boolean = () => true): Promise<Detail> {
    await waitFor('a final verdict on every node', () => mesh.nodes.every(n => {
      const v = verdicts.get(n)?.get(checked.job)
      return v?.final === true && done(v)
    }), 300_000, 200)
    return verdicts.get(mesh.nodes[0])!.get(checked.job)!
  }

  const creditOf = (n: SkylineNode, peer: string): number => computeStats(n.store.statsInput(), { self: n.peerId, now: Date.now() }).nodes.find(s => s.peerId === peer)?.credit ?? 0

  it('K = 0 (genesis): every listed builder is eligible, as before; then with K = 1 a newcomer ranked first is only on probation: it builds and reveals, its reveal never counts and earns no credit, and after that agreed probation build it holds a seat of a later job', async () => {
    const seeder = mesh.nodes[0]
    const veterans = mesh.nodes.slice(0, 4).map(n => n.peerId)
    const newcomer = mesh.nodes[4]

    // genesis, K = 0: the newcomer, with no record, is a seat like anyone (ranked last: the escalation seat)
    const b0 = await beaconWhere(srpms[0], r => r[4] === newcomer.peerId)
    const genesis = await seedSrpm(seeder, announcer, srpms[0], { replicas: 0, quorum: 0, target: TARGET, beacon: b0, panel: PANEL })
    assert.equal(genesis.candidates.length, 5)
    for (const n of mesh.nodes) assert.deepEqual(n.verdicts.seating(genesis), { seats: genesis.builders, probation: [] }, `node ${n.peerId}: K = 0 seats every listed candidate`)
    const v0 = await finalEverywhere(genesis)
    assert.equal(v0.verdict, 'agreed')
    assert.deepEqual(v0.credited, [...veterans].sort())
    assert.equal(v0.probation, undefined)

    // K = 1: the newcomer ranks first but has no agreed build: a probation seat on every node, never a seat
    const b1 = await beaconWhere(srpms[1], r => r[0] === newcomer.peerId)
    const creditBefore = mesh.nodes.map(n => creditOf(n, newcomer.peerId))
    const trial = await seedSrpm(seeder, announcer, srpms[1], { replicas: 0, quorum: 0, target: TARGET, beacon: b1, panel: PANEL, policy: POLICY })
    assert.ok(trial.candidates.some(p => p.equals(newcomer.libp2p.peerId)), 'the seeder lists the newcomer for its probation seat')
    for (const n of mesh.nodes) {
      const s = n.verdicts.seating(trial)
      assert.deepEqual(s.seats.map(String).sort(), [...veterans].sort(), `node ${n.peerId}: the eligible veterans hold the seats`)
      assert.deepEqual(s.probation.map(String), [newcomer.peerId], `node ${n.peerId}: the newcomer is on probation`)
    }
    const v1 = await finalEverywhere(trial, v => v.probationAgreeing?.includes(newcomer.peerId) === true)
    for (const n of mesh.nodes) {
      const v = verdicts.get(n)!.get(trial.job)!
      assert.equal(v.verdict, 'agreed', `node ${n.peerId}`)
      assert.equal(v.escalated, false)
      assert.ok(!v.agreeing.includes(newcomer.peerId), `node ${n.peerId} counts the probation reveal`)
      assert.ok(n.store.attestation(trial.job, newcomer.peerId) !== undefined, `node ${n.peerId} has no probation reveal`)
      assert.deepEqual(v.probationAgreeing, [newcomer.peerId])
    }
    assert.deepEqual(v1.credited, [...veterans].sort())
    assert.deepEqual(mesh.nodes.map(n => creditOf(n, newcomer.peerId)), creditBefore, 'a probation build earns no credit')
    const standing = newcomer.status().eligibility
    assert.deepEqual([standing.policy?.builds, standing.self?.eligible, standing.self?.counted], [1, true, 1], 'status: its agreed probation build makes it eligible for jobs issued from now on')

    // a later job: the newcomer has its agreed build and holds a stage-1 seat; its reveal counts
    const b2 = await beaconWhere(srpms[2], r => r.slice(0, 4).includes(newcomer.peerId))
    const earned = await seedSrpm(seeder, announcer, srpms[2], { replicas: 0, quorum: 0, target: TARGET, beacon: b2, panel: PANEL, policy: POLICY })
    for (const n of mesh.nodes) {
      const s = n.verdicts.seating(earned)
      assert.ok(s.seats.slice(0, 4).some(p => p.equals(newcomer.libp2p.peerId)), `node ${n.peerId}: the newcomer holds a stage-1 seat`)
      assert.deepEqual(s.probation, [])
    }
    const v2 = await finalEverywhere(earned)
    assert.equal(v2.verdict, 'agreed')
    assert.ok(v2.agreeing.includes(newcomer.peerId))
    assert.ok(v2.credited?.includes(newcomer.peerId))
    assert.equal(newcomer.status().eligibility.self?.eligible, true)
    assert.equal(newcomer.status().eligibility.self?.counted, 2)
  })

  it('a seat claimed by a builder that is not eligible counts for nothing; an eligible builder ranked better than the list\'s seats but left out of it is reported by the nodes that know it', async () => {
    const seeder = mesh.nodes[0]
    const omitted = mesh.nodes[3]
    stranger = await startNode({ announcers: [announcer.line], builder: 'rpmbuild', keyring: keyPath, bootstrap: [seeder.libp2p.getMultiaddrs()[0].toString()] })
    await waitForBuilders([...mesh.nodes, stranger])
    const everyone = [...mesh.nodes, stranger]
    // the stranger (no record) ranks first, the left-out veteran second: better than any listed seat
    const b = await beaconWhere(srpms[3], r => r[0] === stranger!.peerId && r[1] === omitted.peerId, everyone)
    const listed = everyone.filter(n => n !== omitted).map(n => n.libp2p.peerId)
    const before = new Map(everyone.map(n => [n, n.verdicts.eligibility.omissions.length]))
    const checked = await seedSrpm(seeder, announcer, srpms[3], { replicas: 0, quorum: 0, target: TARGET, beacon: b, panel: PANEL, policy: { builds: 1, days: 0, probation: 0 }, candidates: listed })
    for (const n of everyone) {
      const s = n.verdicts.seating(checked)
      assert.ok(!s.seats.some(p => p.equals(stranger!.libp2p.peerId)), `node ${n.peerId} seats the stranger`)
      assert.deepEqual(s.probation, [])
    }
    // the stranger claims a seat anyway: a commitment, then a reveal of a hash it never built
    const { privateKey } = await loadOrCreateIdentity(stranger.config.dataDir)
    const nonce = randomBytes(32)
    const fake = { name: 'x-1-1.fc41.x86_64.rpm', size: 1, sha256: 'c'.repeat(64) }
    const claim = createAttestation({ job: checked.job, status: 'ok', files: [fake], environment: {}, nonce }, privateKey)
    const { checkAttestation } = await import('../../src/protocols/attestation.ts')
    const buildHash = checkAttestation(claim, Date.now()).buildHash
    await stranger.publish('consensus', encodeConsensusMessage({ commitment: createCommitment({ job: checked.job, buildHash, nonce }, privateKey) }))
    await stranger.publish('consensus', encodeConsensusMessage({ attestation: claim }))
    const v = await finalEverywhere(checked)
    for (const n of everyone) {
      const w = verdicts.get(n)?.get(checked.job) ?? v
      assert.equal(w.verdict, 'agreed', `node ${n.peerId}`)
      assert.ok(!w.agreeing.includes(stranger.peerId) && !w.dissenters.includes(stranger.peerId))
      assert.equal(n.store.attestation(checked.job, stranger.peerId), undefined, `node ${n.peerId} stored the claim`)
      assert.equal(n.store.commitment(checked.job, stranger.peerId), undefined, `node ${n.peerId} stored the commitment`)
    }
    // the left-out veteran knows itself eligible; the seeder knows it among its peers
    for (const n of [omitted, seeder]) {
      const found = n.verdicts.eligibility.omissions.slice(before.get(n))
      assert.ok(found.some(o => o.job === checked.job && o.builders.includes(omitted.peerId)), `node ${n.peerId} did not report the omission`)
      assert.ok(!found.some(o => o.builders.includes(stranger!.peerId)), 'a builder that is not eligible is never an omission')
    }
    assert.ok(seeder.status().eligibility.omissions.some(o => o.job === checked.job))
  })
})
