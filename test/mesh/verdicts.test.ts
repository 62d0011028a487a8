import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { startMesh, startNode, waitFor, waitForBuilders, tempDir, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer, seedSrpm } from '../helpers/announce.ts'
import { makeSignedSrpms } from '../helpers/srpms.ts'
import { missingTools } from '../helpers/srpm.ts'
import { PoisoningBuilder } from '../helpers/byzantine.ts'
import { createAttestation, encodeConsensusMessage } from '../../src/protocols/attestation.ts'
import { SignedAttestation } from '../../src/protocols/pb/attestation.ts'
import { assignBuilders } from '../../src/rules/assignment.ts'
import { jobKey } from '../../src/rules/job.ts'
import { detectBuilder } from '../../src/builder/index.ts'
import { loadOrCreateIdentity } from '../../src/node/identity.ts'
import type { SkylineNode } from '../../src/node/index.ts'
import type { VerdictEvent } from '../../src/services/verdicts.ts'

const R = 5
const Q = 3
const TARGET = 'fedora-41-x86_64'

/** what must be identical on every node */
function summary (v: VerdictEvent | undefined): string {
  if (v === undefined) return 'none'
  return JSON.stringify({ verdict: v.verdict, hash: v.hash, agreeing: v.agreeing, dissenters: v.dissenters, failed: v.failedBuilders, final: v.final })
}

describe(`consensus: 14 builders + a late joiner, r = ${R}, q = ${Q}`, function () {
  this.timeout(400_000)
  const announcer = testAnnouncer()
  let mesh: TestMesh
  let late: SkylineNode | undefined
  let dir: string
  let srpms: Array<{ path: string, nevra: string }>
  let poisoners: PoisoningBuilder[]
  const verdicts = new Map<SkylineNode, Map<string, VerdictEvent[]>>()
  let peers: PeerId[]

  function watch (n: SkylineNode): void {
    const m = new Map<string, VerdictEvent[]>()
    verdicts.set(n, m)
    n.verdicts.addEventListener('verdict', (e: CustomEvent<VerdictEvent>) => {
      if (!m.has(e.detail.job)) m.set(e.detail.job, [])
      m.get(e.detail.job)!.push(e.detail)
    })
  }
  const last = (n: SkylineNode, job: string): VerdictEvent | undefined => verdicts.get(n)?.get(job)?.at(-1)
  const everyone = (): SkylineNode[] => [...mesh.nodes, ...(late !== undefined ? [late] : [])]

  /** Announces SRPM i with a beacon chosen so that the assigned set passes `want` */
  async function announce (i: number, want: (assigned: string[]) => boolean): Promise<{ job: string, assigned: string[] }> {
    const seeder = mesh.nodes[0]
    const m = await seeder.libp2p.services.blobs.add(srpms[i].path)
    const sha = Buffer.from(m.sha256, 'hex')
    for (let tries = 0; tries < 100_000; tries++) {
      const beacon = randomBytes(32)
      const assigned = assignBuilders(jobKey(sha, TARGET, beacon), peers, R).map(String)
      if (!want(assigned)) continue
      const checked = await seedSrpm(seeder, announcer, srpms[i], { replicas: R, quorum: Q, target: TARGET, beacon })
      return { job: checked.job, assigned }
    }
    throw new Error('no beacon found')
  }

  async function finalEverywhere (job: string, timeoutMs = 180_000): Promise<VerdictEvent> {
    await waitFor(`a final verdict for ${job.slice(0, 8)} on every node`, () => everyone().every(n => last(n, job)?.final === true), timeoutMs, 200)
    const first = last(mesh.nodes[0], job)!
    for (const n of everyone()) assert.equal(summary(last(n, job)), summary(first), `node ${n.peerId} differs`)
    return first
  }

  before(async function () {
    if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) !== undefined) this.skip()
    dir = tempDir()
    const made = await makeSignedSrpms(dir, 6)
    srpms = made.srpms
    const real = (await detectBuilder('rpmbuild')).builder!
    // every builder can be switched to poisoning (off by default): with XOR distance not every set of
    // peers can be assigned together, so the tests pick their poisoners from a job's actual builders
    poisoners = Array.from({ length: 14 }, () => new PoisoningBuilder(real))
    mesh = await startMesh(14, { announcers: [announcer.line], builder: 'rpmbuild', keyring: made.keyPath }, i => ({ builder: poisoners[i] }))
    for (const n of mesh.nodes) watch(n)
    peers = mesh.nodes.map(n => peerIdFromString(n.peerId))
    await waitForBuilders(mesh.nodes)
  })

  after(async () => {
    await late?.stop()
    await mesh?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  let honestJobs: string[] = []
  const poisonerOf = (peer: string): PoisoningBuilder => poisoners[mesh.nodes.findIndex(n => n.peerId === peer)]

  it('honest builds agree on every node, and a node that joins after the attestations reaches the same verdicts', async () => {
    const a = await announce(0, () => true)
    const b = await announce(1, () => true)
    honestJobs = [a.job, b.job]
    for (const { job, assigned } of [a, b]) {
      const v = await finalEverywhere(job)
      assert.equal(v.verdict, 'agreed')
      assert.deepEqual(v.agreeing, [...assigned].sort())
      assert.deepEqual(v.dissenters, [])
    }
    // a relay and tally node joins now: it syncs what it missed from its peers
    late = await startNode({ announcers: [announcer.line], builder: 'none', bootstrap: [mesh.nodes[5].libp2p.getMultiaddrs()[0].toString()] })
    watch(late)
    for (const job of honestJobs) await finalEverywhere(job, 60_000)
    assert.ok(late.sync.stats.accepted > 0, 'the late joiner synced nothing')
  })

  it('one poisoned builder of five: disputed(H) with H the honest hash, the poisoner named; flagged after its second dissent and its operator told', async () => {
    const poisoner = mesh.nodes[7]
    poisonerOf(poisoner.peerId).poison = true
    for (const i of [2, 3]) {
      const { job, assigned } = await announce(i, s => s.includes(poisoner.peerId))
      const v = await finalEverywhere(job)
      assert.equal(v.verdict, 'disputed')
      assert.deepEqual(v.dissenters, [poisoner.peerId])
      assert.deepEqual(v.agreeing, assigned.filter(p => p !== poisoner.peerId).sort())
    }
    for (const n of everyone()) assert.ok(n.verdicts.standing(poisoner.peerId).flagged, `not flagged at ${n.peerId}`)
    const status = poisoner.status()
    assert.ok(status.reputation.flagged)
    assert.ok(status.alerts.some(a => a.kind === 'flagged'), JSON.stringify(status.alerts))
    assert.ok(status.alerts.some(a => a.kind === 'dissent'))
    // an honest builder is not flagged
    assert.ok(!mesh.nodes[1].verdicts.standing(mesh.nodes[1].peerId).flagged)
    poisonerOf(poisoner.peerId).poison = false
  })

  it('three of five colluding on one poisoned hash: disputed, never agreed, both sides named', async () => {
    // the job's builders are known once it is announced; three of them collude, all nodes but the
    // poisoner of the previous test (already flagged)
    const flagged = mesh.nodes[7].peerId
    let colluders: string[] = []
    const { job, assigned } = await announce(4, s => {
      if (s.includes(flagged)) return false
      colluders = s.slice(0, 3)
      for (const c of colluders) poisonerOf(c).poison = true
      return true
    })
    const v = await finalEverywhere(job)
    assert.equal(v.verdict, 'disputed')
    assert.deepEqual(v.agreeing, [...colluders].sort())
    assert.deepEqual(v.dissenters, assigned.filter(p => !colluders.includes(p)).sort())
    for (const n of everyone()) {
      assert.ok(!(verdicts.get(n)?.get(job) ?? []).some(e => e.verdict === 'agreed' && e.final), `a final agreed at ${n.peerId}`)
    }
    for (const p of poisoners) p.poison = false
  })

  it('an equivocating builder is banned on every node; forged and unassigned attestations change no tally', async () => {
    const job = honestJobs[0]
    const before = summary(last(mesh.nodes[0], job))
    const builder = last(mesh.nodes[0], job)!.agreeing[0]
    const node = mesh.nodes.find(n => n.peerId === builder)!
    const { privateKey } = await loadOrCreateIdentity(node.config.dataDir)

    // forged: a valid attestation whose builder bytes were swapped for another builder's
    const other = mesh.nodes.find(n => n.peerId !== builder && last(mesh.nodes[0], job)!.agreeing.includes(n.peerId))!
    const signed = SignedAttestation.decode(createAttestation({ job, status: 'failed', time: Date.now() }, privateKey))
    const forged = SignedAttestation.encode({ ...signed, payload: Buffer.from(Buffer.from(signed.payload).toString('latin1').replace(Buffer.from(peerIdFromString(builder).toMultihash().bytes).toString('latin1'), Buffer.from(peerIdFromString(other.peerId).toMultihash().bytes).toString('latin1')), 'latin1') })
    await node.publish('consensus', encodeConsensusMessage({ attestation: forged }))
    // unassigned: a well-signed attestation from a node that is not among the job's builders
    const outsider = mesh.nodes.find(n => !last(mesh.nodes[0], job)!.agreeing.includes(n.peerId))!
    const { privateKey: outsiderKey } = await loadOrCreateIdentity(outsider.config.dataDir)
    await outsider.publish('consensus', encodeConsensusMessage({ attestation: createAttestation({ job, status: 'failed', time: Date.now() }, outsiderKey) }))
    await new Promise(resolve => setTimeout(resolve, 3000))
    for (const n of everyone()) assert.equal(summary(last(n, job)), before)
    assert.ok(everyone().every(n => !n.store.isBanned(builder)))

    // equivocation: the same builder now claims the build failed
    await node.publish('consensus', encodeConsensusMessage({ attestation: createAttestation({ job, status: 'failed', time: Date.now() }, privateKey) }))
    await waitFor('the equivocator banned on every node', () => everyone().every(n => n.store.isBanned(builder)), 15_000)
    // it no longer counts: the job keeps its verdict from the other four builders
    const v = last(mesh.nodes[0], job)!
    assert.ok(!v.agreeing.includes(builder))
    assert.equal(v.verdict, 'agreed')
  })
})
