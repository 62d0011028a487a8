/**
 * The attack of issue 15 (5): one of the agreeing builders of a verdict, its peer ID ground to sort
 * first, misbehaves when `skyline fetch` fetches the result from the agreeing builders over the real blob
 * protocol. With a bogus hash list, only it may be blamed (the honest builders are neither reported nor
 * banned) and the file comes from the others; when it holds every chunk request, it is abandoned and the
 * others serve the file, well within a minute. The agreeing attestations are real, signed with each
 * builder's own key (the honest nodes' identity keys, the attacker's ground key) and checked again by
 * agreedResult from the fetcher's store.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { startNode, tempDir } from './helpers/mesh.ts'
import { startRawPeer, type BlobMisbehaviour, type RawPeer } from './stress/lib/raw-peer.ts'
import { loadOrCreateIdentity } from '../src/node/identity.ts'
import { checkAttestation, createAttestation } from '../src/protocols/attestation.ts'
import { agreedResult, fetchResult } from '../src/services/results.ts'
import { buildHash } from '../src/rules/build-hash.ts'
import type { Manifest, Misbehaviour } from '../src/services/blob/index.ts'
import type { SkylineNode } from '../src/node/index.ts'

const MB = 1024 * 1024
const NAME = 'hello-1.0-1.fc41.noarch.rpm'

/**
 * An Ed25519 key whose peer ID sorts before every one of `others`: a try or two for two others, most of
 * the time, but as many as the lower one's rank asks (1,000 tries failed a CI run once, when an honest node's
 * ID was about the lowest in a thousand); at ~50 µs a key the cap is ~10 s
 */
async function groundKey (others: string[]): Promise<PrivateKey> {
  for (let i = 0; i < 200_000; i++) {
    const key = await generateKeyPair('Ed25519')
    const id = peerIdFromPrivateKey(key).toString()
    if (others.every(o => id < o)) return key
  }
  throw new Error('no key sorts first')
}

/** Stores a final `agreed` verdict of `builders` on one file into the fetcher's store, as the tally would */
function recordAgreed (fetcher: SkylineNode, job: string, m: Manifest, builders: Array<{ key: PrivateKey }>): void {
  const file = { name: NAME, size: m.size, sha256: m.sha256, chunkSize: m.chunkSize, chunkRoot: m.root }
  const hash = buildHash([file])
  const agreeing: string[] = []
  for (const b of builders) {
    const a = checkAttestation(createAttestation({ job, status: 'ok', files: [file], environment: { builder: 'rpmbuild' } }, b.key), Date.now())
    fetcher.store.addAttestation({ id: a.id, job, builder: a.builder, status: a.status, buildHash: a.buildHash, time: a.time, receivedAt: Date.now(), envelope: a.envelope, contributor: a.contributor, durationMs: a.durationMs })
    agreeing.push(a.builder)
  }
  fetcher.store.setVerdict({ job, verdict: 'agreed', hash, final: true, detail: JSON.stringify({ verdict: 'agreed', hash, agreeing, dissenters: [], final: true }), updatedAt: Date.now() })
}

describe('skyline fetch: one agreeing builder misbehaves', function () {
  this.timeout(60_000)
  let honest: SkylineNode[] = []
  let fetcher: SkylineNode | undefined
  let attacker: RawPeer | undefined
  const repos = tempDir('skyline-fetch-attack-')

  afterEach(async () => {
    await Promise.allSettled([...honest.map(async n => n.stop()), fetcher?.stop(), attacker?.stop()])
    for (const n of [...honest, ...(fetcher !== undefined ? [fetcher] : [])]) rmSync(n.config.dataDir, { recursive: true, force: true })
    honest = []
    fetcher = undefined
    attacker = undefined
  })
  after(() => { rmSync(repos, { recursive: true, force: true }) })

  /** Two honest builders holding the RPM, an attacker agreeing with them, a fetcher that knows the verdict */
  async function setUp (misbehave: BlobMisbehaviour): Promise<{ job: string, m: Manifest, events: Misbehaviour[] }> {
    honest = [await startNode(), await startNode()]
    fetcher = await startNode()
    const data = randomBytes(16 * MB)
    const m = await honest[0].libp2p.services.blobs.add(data, { provide: false })
    await honest[1].libp2p.services.blobs.add(data, { provide: false })
    const keys = await Promise.all(honest.map(async n => (await loadOrCreateIdentity(n.config.dataDir)).privateKey))
    const attackerKey = await groundKey(honest.map(n => n.peerId))
    attacker = await startRawPeer({ privateKey: attackerKey })
    attacker.serve(m, data, 0, misbehave)
    for (const n of honest) await fetcher.libp2p.dial(n.libp2p.getMultiaddrs()[0])
    await attacker.dial(fetcher.libp2p.getMultiaddrs().map(String))
    const job = randomBytes(32).toString('hex')
    recordAgreed(fetcher, job, m, [{ key: attackerKey }, ...keys.map(key => ({ key }))])
    const events: Misbehaviour[] = []
    fetcher.libp2p.services.blobs.addEventListener('peer:misbehaved', e => { events.push(e.detail) })
    return { job, m, events }
  }

  it('a bogus hash list is blamed on its sender only, and the file comes from the honest builders', async () => {
    const { job, m, events } = await setUp({ bogusManifest: true })
    const r = agreedResult(fetcher!, job)
    assert.ok(r.ok, JSON.stringify(r))
    assert.equal(r.result.agreeing[0], attacker!.node.peerId.toString(), 'the attacker sorts first')
    const repo = join(repos, 'bogus')
    const out = await fetchResult(fetcher!, r.result, repo, { signal: AbortSignal.timeout(30_000) })
    assert.deepEqual(out.written, [NAME])
    assert.equal(createHash('sha256').update(readFileSync(join(repo, NAME))).digest('hex'), m.sha256)
    const blobs = fetcher!.libp2p.services.blobs
    for (const n of honest) {
      assert.equal(blobs.isBanned(n.libp2p.peerId), false, 'an honest builder was banned')
      assert.ok(events.every(e => !e.peer.equals(n.libp2p.peerId)), 'an honest builder was blamed')
    }
    // the swarm takes the first hash list that matches the signed root: the attacker's is blamed if it was read
    const blamed = events.filter(e => e.peer.equals(attacker!.node.peerId))
    for (const e of blamed) assert.match(e.reason, /manifest does not match/)
    assert.equal(blobs.isBanned(attacker!.node.peerId), blamed.length > 0)
  })

  it('a builder that holds every chunk request is abandoned, and the others serve the file', async () => {
    // it first claims all chunks but one, as a fellow fetcher would, so the complete builders defer to it
    const { job, m, events } = await setUp({ stallMs: 25_000, leechFirst: true })
    const r = agreedResult(fetcher!, job)
    assert.ok(r.ok, JSON.stringify(r))
    assert.equal(r.result.agreeing[0], attacker!.node.peerId.toString(), 'the attacker sorts first')
    const repo = join(repos, 'stall')
    const t0 = Date.now()
    const out = await fetchResult(fetcher!, r.result, repo, { signal: AbortSignal.timeout(20_000) })
    const seconds = (Date.now() - t0) / 1000
    assert.deepEqual(out.written, [NAME])
    assert.equal(createHash('sha256').update(readFileSync(join(repo, NAME))).digest('hex'), m.sha256)
    assert.ok(seconds < 15, `the fetch took ${seconds.toFixed(1)} s`)
    for (const n of honest) assert.ok(events.every(e => !e.peer.equals(n.libp2p.peerId)), 'an honest builder was blamed')
  })
})
