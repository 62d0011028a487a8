/**
 * Joining past a full bootstrap node: the mesh's only bootstrap node is at its connection limit (lowered
 * to 3 here), and newcomers that know only it still join the mesh: it lets them in long enough to learn
 * peers from its DHT, they connect to those peers, and it prunes back under its limit afterwards; a
 * burst of newcomers eight times its limit all get in and find other peers (before the admission by time
 * budget, the first few in kept redialling it and held its room: the rest stayed alone).
 */
import { strict as assert } from 'node:assert'
import { rmSync } from 'node:fs'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadConfig, SkylineNode } from '../../src/node/index.ts'
import { tempDir, startNode, waitFor } from '../helpers/mesh.ts'
import { testAnnouncer, testAnnouncement } from '../helpers/announce.ts'
import { checkAnnouncement } from '../../src/protocols/announce.ts'
import type { ConnectionTrim } from '../../src/services/connection-trim.ts'
import { TrustedKeys } from '../../src/protocols/signing.ts'

const BOOTSTRAP_LIMIT = 3
/** newcomers arriving at once at the full bootstrap node: eight times its limit (1,000 newcomers at a limit of 100 is ten) */
const BURST = 24
/** @default 50 s for the burst to join (25-32 s on this 2-core machine at load 2-3; the rest is for a loaded one) */
const BURST_JOIN_MS = 50_000

function trustedOf (announcer: ReturnType<typeof testAnnouncer>): TrustedKeys {
  const trusted = new TrustedKeys()
  trusted.add(announcer.key.publicKey)
  return trusted
}

describe('joining through a bootstrap node at its connection limit', function () {
  this.timeout(120_000)
  const nodes: SkylineNode[] = []
  const announcer = testAnnouncer()

  after(async () => {
    await Promise.allSettled(nodes.map(async n => n.stop()))
    for (const n of nodes) rmSync(n.config.dataDir, { recursive: true, force: true })
  })

  it('lets every newcomer in, and they find the rest of the mesh through it', async () => {
    const config = loadConfig({ dataDir: tempDir(), listen: ['/ip4/127.0.0.1/tcp/0'], http: 'off', announcers: [announcer.line] })
    config.inboundConnectionThreshold = 1000
    config.maxConnections = BOOTSTRAP_LIMIT
    const boot = new SkylineNode(config)
    await boot.start()
    nodes.push(boot)
    // the connection count each time the bootstrap node's trimmer has run
    const afterTrim: number[] = []
    const trimmer = (boot.libp2p.services as unknown as { trim: ConnectionTrim }).trim
    const trim = trimmer.trim.bind(trimmer)
    trimmer.trim = async (now?: number) => { await trim(now); afterTrim.push(boot.libp2p.getConnections().length) }
    const bootAddr = boot.libp2p.getMultiaddrs()[0].toString()

    const early = await Promise.all(Array.from({ length: BOOTSTRAP_LIMIT }, async () => startNode({ bootstrap: [bootAddr], announcers: [announcer.line] })))
    nodes.push(...early)
    await waitFor('the bootstrap node at its limit', () => boot.libp2p.getConnections().length >= BOOTSTRAP_LIMIT, 20_000)

    const newcomers = await Promise.all(Array.from({ length: 3 }, async () => startNode({ bootstrap: [bootAddr], announcers: [announcer.line] })))
    nodes.push(...newcomers)
    const others = (n: SkylineNode): number => n.libp2p.getPeers().filter(p => !p.equals(boot.libp2p.peerId)).length
    await waitFor('every newcomer connected to peers other than the bootstrap node', () => newcomers.every(n => others(n) >= 2), 30_000)

    // the mesh works for them: a newcomer's gossip reaches every node
    // gossip reaches a node through its topic mesh (or IHAVE within a few heartbeats): every node in one first
    await waitFor('every node in an announce-topic mesh', () => nodes.every(n => n.status().topics['/skyline/2/announce'].meshPeers.length > 0), 30_000)
    // (a node may hear of it first from a sync exchange, when a peer that has it answers the node's
    // reconnect sync before gossip arrives: gossip's copy is then a duplicate, so what counts is that the
    // node holds the announcement, however it came)
    const payload = testAnnouncement(announcer)
    const job = checkAnnouncement(payload, trustedOf(announcer), Date.now()).job
    await newcomers[0].libp2p.services.pubsub.publish('/skyline/2/announce', payload)
    await waitFor('a newcomer\'s announcement at every node', () => nodes.every(n => n === newcomers[0] || n.announcements.get(job) !== undefined), 20_000)

    // and the bootstrap node is back under its limit once the newcomers' grace has passed
    // (measured when its trimmer has acted: in a mesh this small every peer keeps the bootstrap node among
    // its kad-dht closest peers, kept alive, so a trimmed peer may dial it again within moments)
    await waitFor('the bootstrap node pruned back to its limit', () => boot.libp2p.getConnections().length <= BOOTSTRAP_LIMIT || afterTrim.some(n => n <= BOOTSTRAP_LIMIT), 45_000)
    assert.ok(newcomers.every(n => others(n) >= 1), 'a newcomer lost its connections to the mesh')
  })
  it('lets a burst of newcomers, many times its limit, all join at once', async () => {
    const config = loadConfig({ dataDir: tempDir(), listen: ['/ip4/127.0.0.1/tcp/0'], http: 'off' })
    config.inboundConnectionThreshold = 1000
    config.maxConnections = BOOTSTRAP_LIMIT
    const boot = new SkylineNode(config)
    await boot.start()
    nodes.push(boot)
    const bootAddr = boot.libp2p.getMultiaddrs()[0].toString()
    // every newcomer knows only the bootstrap node, and they all arrive within a moment
    const burst = await Promise.all(Array.from({ length: BURST }, async () => startNode({ bootstrap: [bootAddr] })))
    nodes.push(...burst)
    const others = (n: SkylineNode): number => n.libp2p.getPeers().filter(p => !p.equals(boot.libp2p.peerId)).length
    await waitFor(`all ${BURST} newcomers connected to peers other than the bootstrap node`, () => burst.every(n => others(n) >= 1), BURST_JOIN_MS)
  })

  it('a newcomer refused by its bootstrap nodes dials the peers it has learned', async () => {
    const known = await startNode()
    nodes.push(known)
    // its only bootstrap address refuses every connection (nothing listens there)
    const absent = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const newcomer = await startNode({ bootstrap: [`/ip4/127.0.0.1/tcp/9/p2p/${absent.toString()}`] })
    nodes.push(newcomer)
    await newcomer.libp2p.peerStore.merge(known.libp2p.peerId, { multiaddrs: known.libp2p.getMultiaddrs() })
    await waitFor('the newcomer connected to the peer it learned', () => newcomer.libp2p.getConnections(known.libp2p.peerId).length > 0, 15_000)
  })

  it('a node refused by a full peer it keeps alive backs off instead of redialling it at once', async () => {
    // a full node (limit 1, held by another peer), and a newcomer that keeps it alive (as kad-dht tags its closest)
    const full = await startNode({}, {}, { maxConnections: 1 })
    const holder = await startNode({ bootstrap: [full.libp2p.getMultiaddrs()[0].toString()] })
    nodes.push(full, holder)
    await waitFor('the full node at its limit', () => full.libp2p.getConnections().length >= 1, 15_000)
    const newcomer = await startNode()
    nodes.push(newcomer)
    let opened = 0
    newcomer.libp2p.addEventListener('connection:open', evt => { if (evt.detail.remotePeer.equals(full.libp2p.peerId)) opened++ })
    await newcomer.libp2p.peerStore.merge(full.libp2p.peerId, { multiaddrs: full.libp2p.getMultiaddrs(), tags: { 'keep-alive-test': { value: 1 } } })
    await newcomer.libp2p.dial(full.libp2p.peerId)
    // its two turns past the limit (5 s each), then refused: libp2p redials a kept-alive peer on every disconnect
    const trim = (full.libp2p.services as unknown as { trim: ConnectionTrim }).trim
    await waitFor('the full node to refuse the newcomer', () => trim.refuses(newcomer.libp2p.peerId), 30_000)
    const refusedFrom = opened
    await new Promise(resolve => setTimeout(resolve, 8_000))
    // backing off 2, 4, then 8 s: at most 3 more connections in 8 s (without the backoff: one per handshake, hundreds)
    assert.ok(opened - refusedFrom <= 4, `${opened - refusedFrom} connections opened to the refusing node in 8 s`)
  })
})
