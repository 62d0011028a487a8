/**
 * Stress (long suite only, scripts/test-stress.sh): does a final verdict stay final when the mesh changes?
 *
 * docs/protocols/consensus.md, Finality: once every assigned peer has spoken, "no honest input can change
 * the verdict". A builder that joins after a job's verdict is final, with a peer ID closer to the job's
 * key than its builders (a node's key is random: with churn this happens to some job every day), is such
 * an input: it must leave the verdict as it is, on every node, itself included, whether it builds the job
 * or not. Node processes on 127.0.0.1; rpmbuild, rpmsign, gpg and bwrap are needed (skipped otherwise).
 */
import assert from 'node:assert/strict'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { tempDir } from '../helpers/mesh.ts'
import { testAnnouncer } from '../helpers/announce.ts'
import { makeSignedSrpms } from '../helpers/srpms.ts'
import { missingTools } from '../helpers/srpm.ts'
import { NodeProc, cleanup, sleep, waitUntil, verdictSummary } from '../helpers/stress.ts'
import { startProcMesh, validationCounts, total, type ProcMesh } from './lib/mesh-procs.ts'
import { assignBuilders } from '../../src/rules/assignment.ts'

describe('stress: a final verdict when a closer builder joins later', function () {
  this.timeout(600_000)
  const announcer = testAnnouncer()
  let dir: string | undefined
  let mesh: ProcMesh
  let keyPath: string
  let srpms: Array<{ path: string, nevra: string }>

  before(async function () {
    if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) !== undefined) this.skip()
    dir = tempDir('skyline-stress-finality-')
    const made = await makeSignedSrpms(join(dir, 'srpms'), 1)
    srpms = made.srpms
    keyPath = made.keyPath
    mesh = await startProcMesh({ dir, builders: 4, keyring: made.keyPath, announcer, replicas: 3, quorum: 2 })
  })

  after(async () => {
    await mesh?.seeder.stop()
    await cleanup()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('a builder that joins after a job is final, closer to its key than its builders, leaves the verdict as it is', async () => {
    const { job, assigned } = await mesh.announce(srpms[0])
    const verdict = await mesh.converged(job, assigned, 'agreed', true)
    const builders = mesh.builders.map(b => peerIdFromString(b.peerId))
    let key: PrivateKey
    do key = await generateKeyPair('Ed25519')
    while (!assignBuilders(Buffer.from(job, 'hex'), [...builders, peerIdFromPrivateKey(key)], 1)[0].equals(peerIdFromPrivateKey(key)))
    const newcomer = new NodeProc({ name: 'newcomer', dir: join(dir!, 'newcomer'), listen: '/ip4/127.0.0.1/tcp/0', http: '127.0.0.1:0', builder: 'rpmbuild', keyring: keyPath, announcer: join(dir!, 'announcer.pub'), bootstrap: [mesh.nodes[0].address] })
    writeFileSync(join(newcomer.dataDir, 'identity.key'), privateKeyToProtobuf(key), { mode: 0o600 })
    const counts = await Promise.all(mesh.nodes.map(validationCounts))
    await newcomer.start()
    assert.equal(newcomer.peerId, peerIdFromPrivateKey(key).toString())
    await waitUntil('the newcomer to sync the final job', () => newcomer.store({ integrity: false }).announcements.some(a => a.job === job), 90_000, 500)
    // it may take the job (it is the closest builder now); if it does, its attestation must reach every node first
    const took = await waitUntil('the newcomer to build the job', () => ['built', 'failed'].includes(newcomer.store({ integrity: false }).jobs.find(j => j.job === job)?.state ?? ''), 30_000, 500).then(() => true, () => false)
    if (took) {
      await waitUntil('the newcomer\'s attestation to be validated everywhere', async () => {
        const c = await Promise.all(mesh.nodes.map(validationCounts))
        return c.every((m, i) => total(m, k => k.startsWith('consensus:')) > total(counts[i], k => k.startsWith('consensus:')))
      }, 30_000, 500)
    }
    await sleep(3000) // every tally ran on what came in
    console.log(`      a builder closer to the job joined after its verdict was final and ${took ? 'built it' : 'did not build it'}`)
    for (const n of [...mesh.nodes, newcomer]) {
      assert.equal(verdictSummary(n.store().verdicts.find(v => v.job === job)), verdict, `${n.name}: the final verdict changed after a builder joined`)
    }
  })
})
