/**
 * `/skyline/sync/1.0.0` asks only when there is a reason and sends only what is new: a node asks a few
 * peers when it starts, a peer that comes back after losing every connection, and peers with a cursor
 * when gossip brings an attestation of a job it never saw; a second exchange with the same peer sends
 * what that peer stored since the first (the cursor of the end marker), offered by id first so that
 * only what the asker lacks is sent, and items a node holds already are not checked again. The guarantees stay: a restarted node gets what it missed.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { rmSync } from 'node:fs'
import { SkylineNode } from '../../src/node/index.ts'
import { Store } from '../../src/store/store.ts'
import { GAP_INTERVAL_MS, SYNC_PROTOCOL, type SyncKind } from '../../src/services/sync.ts'
import { askOnce } from '../../src/services/sync-wire.ts'
import { stringifyTopic } from '../../src/protocols/ids.ts'
import { startMesh, startNode, waitFor, type TestMesh } from '../helpers/mesh.ts'
import { randomPeerId, testAnnouncement, testAnnouncer } from '../helpers/announce.ts'
import { peerIdFromString } from '@libp2p/peer-id'

const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

describe('sync: asks for a reason, sends what is new', function () {
  this.timeout(120_000)
  const announcer = testAnnouncer()
  let nodes: SkylineNode[] = []
  let mesh: TestMesh | undefined

  async function node (): Promise<SkylineNode> {
    const n = await startNode({ builder: 'none', announcers: [announcer.line] })
    nodes.push(n)
    return n
  }

  /** Announces from `n` (recorded, and gossiped to whoever is connected); returns the id */
  async function announce (n: SkylineNode): Promise<string> {
    return (await n.announce(testAnnouncement(announcer))).id
  }

  async function connect (a: SkylineNode, b: SkylineNode): Promise<void> {
    await a.libp2p.dial(b.libp2p.getMultiaddrs()[0])
  }

  afterEach(async () => {
    await Promise.allSettled(nodes.map(async n => n.stop()))
    for (const n of nodes) rmSync(n.config.dataDir, { recursive: true, force: true })
    nodes = []
    await mesh?.stop()
    mesh = undefined
  })

  it('a second exchange with the same peer offers nothing when nothing is new; a third offers only the new items by id and sends only the one the asker lacks', async () => {
    const a = await node()
    const b = await node()
    const ids = [await announce(b), await announce(b), await announce(b)]
    await connect(a, b)
    await waitFor('a to sync the three announcements', () => ids.every(id => a.store.hasAnnouncement(id)))
    await waitFor('the exchange to end', () => a.sync.stats.syncs >= 1)
    const served = b.sync.stats.served
    const offered = a.sync.stats.offered
    assert.equal(await a.sync.syncFrom(b.libp2p.peerId), 0)
    assert.equal(b.sync.stats.served - served, 0, 'the second exchange sent items the asker had')
    assert.equal(a.sync.stats.offered - offered, 0, 'the second exchange offered items stored before the cursor')
    // one new announcement reaches a by gossip; another is recorded at b alone (never gossiped)
    const gossiped = await announce(b)
    await waitFor('a to hold the gossiped announcement', () => a.store.hasAnnouncement(gossiped))
    const quiet = (b as any).announcements.add(testAnnouncement(announcer)).id as string
    const bytes = b.sync.stats.bytesServed
    assert.equal(await a.sync.syncFrom(b.libp2p.peerId), 1)
    assert.equal(a.sync.stats.offered - offered, 2, 'the third exchange offered more than the two new items')
    assert.equal(a.sync.stats.wanted, a.sync.stats.received, 'items came that were not asked for')
    assert.equal(b.sync.stats.served - served, 1, 'the third exchange sent the item the asker held, or not the one it lacked')
    assert.ok(a.store.hasAnnouncement(quiet))
    // what went out: two 16-byte ids with their framing, and the one announcement
    const oneItem = (a.store as any).sql('SELECT length(envelope) AS n FROM announcements WHERE id = ?').get(quiet).n as number
    assert.ok(b.sync.stats.bytesServed - bytes < oneItem + 2 * 16 + 16, `served ${b.sync.stats.bytesServed - bytes} bytes for one ${oneItem}-byte item`)
  })

  it('an asker that does not ask for ids first (an earlier version) gets every item after its cursor at once', async () => {
    const a = await node()
    const b = await node()
    const ids = [await announce(b), await announce(b)]
    await connect(a, b)
    await waitFor('a to sync the two announcements', () => ids.every(id => a.store.hasAnnouncement(id)))
    const served = b.sync.stats.served
    const got: SyncKind[] = []
    const end = await askOnce(a.libp2p, b.libp2p.peerId, { since: 0 }, AbortSignal.timeout(10_000), async kind => { got.push(kind) })
    assert.deepEqual(got, ['announcement', 'announcement'])
    assert.equal(end.offered, 0)
    assert.ok(end.cursor.byteLength > 0)
    assert.equal(b.sync.stats.served - served, 2)
  })

  it('a node that joins a mesh asks at most 3 of its peers for everything, the others for what is recent, skips what it holds, and a peer that identifies again is not asked', async () => {
    mesh = await startMesh(6, { builder: 'none', announcers: [announcer.line] })
    await waitFor('a connected mesh', () => mesh!.nodes.every(n => n.libp2p.getPeers().length >= 5), 30_000)
    const ids = [await announce(mesh.nodes[0]), await announce(mesh.nodes[1])]
    await waitFor('the announcements everywhere', () => mesh!.nodes.every(n => ids.every(id => n.store.hasAnnouncement(id))))
    // past gossipsub's message cache (5 heartbeats): a late node can only get them by sync, never by IHAVE
    await sleep(6000)
    const a = await node()
    for (const n of mesh.nodes) await connect(a, n)
    await waitFor('the late node to hold both announcements', () => ids.every(id => a.store.hasAnnouncement(id)))
    await sleep(3000)
    assert.ok(a.sync.stats.reasons.start <= 3, `asked ${a.sync.stats.reasons.start} of 6 peers for everything`)
    assert.equal(a.sync.stats.asked, 6, 'the peers met after the start round were not each asked once')
    assert.equal(a.sync.stats.accepted, 2)
    assert.equal(a.sync.stats.received - a.sync.stats.skipped, 2, 'items already held were checked again')
    // an identify again (a new connection, an identify push) from a peer already asked: no exchange
    const asked = a.sync.stats.asked
    for (const n of mesh.nodes) a.libp2p.safeDispatchEvent('peer:identify', { detail: { peerId: n.libp2p.peerId, protocols: [SYNC_PROTOCOL] } as any })
    await sleep(2000)
    assert.equal(a.sync.stats.asked, asked)
  })

  it('a node restarted after missing 2 jobs gets them', async () => {
    const a = await node()
    const b = await node()
    await connect(a, b)
    const before = await announce(a)
    await waitFor('b to hold the first announcement', () => b.store.hasAnnouncement(before))
    await b.stop()
    const missed = [await announce(a), await announce(a)]
    const again = new SkylineNode(b.config)
    nodes[nodes.indexOf(b)] = again
    await again.start()
    await connect(again, a)
    await waitFor('the restarted node to get the 2 announcements it missed', () => missed.every(id => again.store.hasAnnouncement(id)))
    assert.ok(again.sync.stats.reasons.start >= 1)
  })

  it('a peer that comes back after losing every connection is asked again, for what is new only', async () => {
    const a = await node()
    const b = await node()
    const old = [await announce(b), await announce(b)]
    await connect(a, b)
    await waitFor('the first exchange', () => a.sync.stats.syncs >= 1 && old.every(id => a.store.hasAnnouncement(id)))
    await a.libp2p.hangUp(b.libp2p.peerId)
    // (the reconnect queue redials after about 2 s, so under load b may already hold the next connection)
    await waitFor('the connection to drop', () => a.libp2p.getConnections(b.libp2p.peerId).length === 0)
    const made = await announce(b) // on b's side of the partition
    const served = b.sync.stats.served
    await connect(a, b)
    await waitFor('a to get what b made while apart', () => a.store.hasAnnouncement(made), 20_000)
    await waitFor('the reconnect exchange', () => a.sync.stats.reasons.reconnect >= 1, 20_000)
    assert.ok(b.sync.stats.served - served <= 1, `the reconnect exchange sent ${b.sync.stats.served - served} items, not only the new one`)
  })

  it('two nodes restarted together: the one that met the other after its start round gets the attestation only the other holds, within seconds', async () => {
    mesh = await startMesh(4, { builder: 'none', announcers: [announcer.line] })
    const [m0, m1] = mesh.nodes
    let x = await node()
    let y = await node()
    for (const n of [...mesh.nodes, y]) await connect(x, n)
    for (const n of mesh.nodes) await connect(y, n)
    const topic = stringifyTopic('consensus')
    await waitFor('every node on the consensus topic', () => [...mesh!.nodes, x, y].every(n => n.libp2p.services.pubsub.getSubscribers(topic).length >= 5), 30_000)
    // a job of three builders, m0, m1 and y (q = 2): m0 and m1 agree (final once y has spoken too)
    const candidates = [m0, m1, y].map(n => peerIdFromString(n.libp2p.peerId.toString()))
    const checked = await m0.announce(testAnnouncement(announcer, { replicas: 3, quorum: 2, candidates }))
    await waitFor('the announcement everywhere', () => [...mesh!.nodes, x, y].every(n => n.store.hasAnnouncement(checked.id)))
    const files = [{ name: 'pkg-1.0-1.fc41.x86_64.rpm', size: 1, sha256: createHash('sha256').update('x').digest('hex') }]
    const build = { job: checked.job, status: 'ok' as const, buildHash: undefined, files, environment: {}, durationMs: 1, logExcerpt: undefined, finishedAt: Date.now() }
    await m0.verdicts.attest(build)
    await m1.verdicts.attest(build)
    await waitFor('agreement on every node', () => [...mesh!.nodes, x, y].every(n => n.store.verdict(checked.job)?.verdict === 'agreed'))
    // y records its own attestation (its verdict is final: every builder has spoken) and goes down before
    // publishing it (killed as it attests); x goes down too
    ;(y.verdicts as any).recordOwn(build)
    await waitFor('y\'s final verdict', () => y.store.verdict(checked.job)?.final === true)
    await Promise.all([x.stop(), y.stop()])
    // x comes back first and asks three peers for everything: none of them holds y's attestation
    x = await restart(x)
    for (const n of mesh.nodes.slice(0, 3)) await connect(x, n)
    await waitFor('x\'s start round', () => x.sync.stats.reasons.start === 3 && x.sync.stats.syncs >= 3)
    // then y: the peers that were up ask it (it came back); x meets it after its start round
    y = await restart(y)
    for (const n of [...mesh.nodes, x]) await connect(y, n)
    const yId = y.libp2p.peerId.toString()
    await waitFor('the peers that were up to get y\'s attestation', () => mesh!.nodes.every(n => n.store.attestation(checked.job, yId) !== undefined), 20_000)
    await waitFor('x to get y\'s attestation', () => x.store.attestation(checked.job, yId) !== undefined, 15_000)
    await waitFor('x to count y among the agreeing builders, final', () => x.store.verdict(checked.job)?.final === true && JSON.parse(x.store.verdict(checked.job)!.detail).agreeing.includes(yId) === true)
  })

  /** The same node (identity, store) started again */
  async function restart (n: SkylineNode): Promise<SkylineNode> {
    const again = new SkylineNode(n.config)
    nodes[nodes.indexOf(n)] = again
    await again.start()
    return again
  }

  it('a gap inside GAP_INTERVAL_MS of the last ask is asked about once the interval ends, not dropped', async () => {
    const a = await node()
    const b = await node()
    await connect(a, b)
    await waitFor('the first exchange', () => a.sync.stats.syncs >= 1)
    const syncs = a.sync.stats.syncs
    const asked = Date.now()
    a.sync.gap()
    await waitFor('the gap exchange', () => a.sync.stats.reasons.gap === 1 && a.sync.stats.syncs > syncs)
    // b records an item after that exchange (not gossiped); two more gaps come inside the interval: one ask when it ends brings it
    const id = b.announcements.add(testAnnouncement(announcer)).id
    a.sync.gap()
    a.sync.gap()
    await sleep(1_000)
    assert.equal(a.sync.stats.reasons.gap, 1, 'asked again inside the interval')
    assert.equal(a.store.hasAnnouncement(id), false)
    await waitFor('the deferred gap ask', () => a.store.hasAnnouncement(id), GAP_INTERVAL_MS + 5_000)
    assert.ok(Date.now() - asked >= GAP_INTERVAL_MS, `came after ${Date.now() - asked} ms`)
    await sleep(500)
    assert.equal(a.sync.stats.reasons.gap, 2, 'the two gaps inside the interval were one ask')
  })

  it('an attestation of a job a node never saw makes it ask a peer, and the job and the attestation come', async () => {
    const a = await node()
    const b = await node()
    await connect(a, b)
    await waitFor('the first exchange', () => a.sync.stats.syncs >= 1)
    const topic = stringifyTopic('consensus')
    await waitFor('a and b on the consensus topic', () => a.libp2p.services.pubsub.getSubscribers(topic).length > 0 && b.libp2p.services.pubsub.getSubscribers(topic).length > 0)
    // b holds an announcement a never got (it was not gossiped), then gossips an attestation of it
    const candidates = [peerIdFromString(b.libp2p.peerId.toString()), randomPeerId(), randomPeerId()]
    const checked = b.announcements.add(testAnnouncement(announcer, { replicas: 3, quorum: 2, candidates }))
    const files = [{ name: 'pkg-1.0-1.fc41.x86_64.rpm', size: 1, sha256: createHash('sha256').update('x').digest('hex') }]
    await b.verdicts.attest({ job: checked.job, status: 'ok', buildHash: undefined, files, environment: {}, durationMs: 1, logExcerpt: undefined, finishedAt: Date.now() })
    await waitFor('a to get the announcement and the attestation', () => a.store.hasAnnouncement(checked.id) && a.store.attestations(checked.job).length === 1, 20_000)
    assert.ok(a.sync.stats.reasons.gap >= 1)
  })
})

describe('store: sync cursors', () => {
  function fill (store: Store, n: number, from = 0): void {
    for (let i = from; i < from + n; i++) {
      store.addAnnouncement({ id: `id${i}`, job: `job${i}`, announcer: 'k', sequence: BigInt(i), nevra: 'n', srpmSha256: 's', issuedAt: Date.now(), expiresAt: Date.now() + 60_000, receivedAt: Date.now(), envelope: Uint8Array.of(i) })
    }
  }

  it('an answer ends with a cursor after which only newer rows come; a cut answer continues; a cursor beyond the store counts as none', () => {
    const store = new Store(':memory:')
    fill(store, 5)
    const first = store.syncItems(0, 3)
    assert.deepEqual(first.announcements.map(e => e[0]), [0, 1, 2])
    const rest = store.syncItems(0, 3, first.cursor)
    assert.deepEqual(rest.announcements.map(e => e[0]), [3, 4])
    assert.equal(store.syncItems(0, 3, rest.cursor).announcements.length, 0)
    fill(store, 1, 5)
    assert.deepEqual(store.syncItems(0, 3, rest.cursor).announcements.map(e => e[0]), [5])
    assert.equal(store.syncItems(0, 10, { ...rest.cursor, announcements: 1000 }).announcements.length, 6)
    // `since` still applies: the asker holds what is older
    assert.equal(store.syncItems(Date.now() + 1000, 10).announcements.length, 0)
    store.close()
  })
  it('each item comes with its id, and an offered id is found by its first 16 bytes: a proof by the sha256 of its bytes', () => {
    const store = new Store(':memory:')
    const hex = (s: string): string => createHash('sha256').update(s).digest('hex')
    store.addAnnouncement({ id: hex('a'), job: 'job', announcer: 'k', sequence: 1n, nevra: 'n', srpmSha256: 's', issuedAt: Date.now(), expiresAt: Date.now() + 60_000, receivedAt: Date.now(), envelope: Uint8Array.of(1) })
    const proof = Uint8Array.of(7, 7, 7)
    store.ban('builder', 'job', proof, Date.now())
    const items = store.syncItems(0, 10)
    assert.deepEqual(items.ids.announcements, [hex('a')])
    assert.deepEqual(items.ids.proofs, [createHash('sha256').update(proof).digest('hex')])
    assert.ok(store.holdsIdPrefix('announcements', hex('a').slice(0, 32)))
    assert.ok(!store.holdsIdPrefix('announcements', hex('b').slice(0, 32)))
    assert.ok(!store.holdsIdPrefix('attestations', hex('a').slice(0, 32)))
    assert.ok(store.holdsIdPrefix('proofs', items.ids.proofs[0].slice(0, 32)))
    assert.ok(!store.holdsIdPrefix('proofs', hex('a').slice(0, 32)))
    store.close()
  })
})
