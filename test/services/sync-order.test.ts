import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { startNode, waitFor } from '../helpers/mesh.ts'
import { testAnnouncement, testAnnouncer } from '../helpers/announce.ts'
import { checkAnnouncement } from '../../src/protocols/announce.ts'
import { createAttestation, createEquivocationProof } from '../../src/protocols/attestation.ts'
import { jobBuilders } from '../../src/rules/assignment.ts'
import type { SkylineNode } from '../../src/node/index.ts'

describe('sync: a spare that took a banned builder\'s seat', function () {
  this.timeout(60_000)
  const nodes: SkylineNode[] = []
  after(async () => { await Promise.allSettled(nodes.map(async n => n.stop())) })

  it('a late joiner records the spare\'s attestation: the ban proof comes before the attestations', async () => {
    // the attack: the seated builder equivocates (two claims for the job), is banned, and the spare takes
    // its seat and attests. A node that syncs all of it afterwards must reach the same verdict: had the
    // spare's attestation come before the ban proof, the spare would not yet be assigned there, the
    // attestation would be IGNOREd, never recorded, and the sync cursor would move past it for good
    const announcer = testAnnouncer()
    const keys = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
    const envelope = testAnnouncement(announcer, { replicas: 1, quorum: 1, candidates: keys.map(k => peerIdFromPrivateKey(k)) })
    const holder = await startNode({ builder: 'none', announcers: [announcer.line] })
    nodes.push(holder)
    const a = checkAnnouncement(envelope, holder.trusted, Date.now())
    const seat = keys.find(k => peerIdFromPrivateKey(k).equals(jobBuilders(a.jobKey, a.candidates, 1)[0]))!
    const spare = keys.find(k => k !== seat)!
    const files = [{ name: 'pkg-1.0-1.noarch.rpm', size: 10, sha256: 'ab'.repeat(32) }]

    await holder.announce(envelope).catch(() => {})
    const proof = createEquivocationProof(
      createAttestation({ job: a.job, status: 'ok', files, time: Date.now() }, seat),
      createAttestation({ job: a.job, status: 'failed', time: Date.now() }, seat))
    assert.equal(await holder.verdicts.ingest('equivocation', proof), true)
    assert.equal(await holder.verdicts.ingest('attestation', createAttestation({ job: a.job, status: 'ok', files, time: Date.now() }, spare)), true)
    await waitFor('the holder\'s verdict', () => holder.store.verdict(a.job)?.verdict === 'agreed')

    const late = await startNode({ builder: 'none', announcers: [announcer.line], bootstrap: [holder.libp2p.getMultiaddrs()[0].toString()] })
    nodes.push(late)
    await waitFor('a complete sync', () => late.sync.stats.syncs >= 1 && late.store.isBanned(peerIdFromPrivateKey(seat).toString()))
    assert.ok(late.store.attestation(a.job, peerIdFromPrivateKey(spare).toString()) !== undefined, 'the spare\'s attestation was dropped')
    await waitFor('the same verdict', () => late.store.verdict(a.job)?.detail === holder.store.verdict(a.job)?.detail)
  })
})
