import assert from 'node:assert/strict'
import { defaultLogger } from '@libp2p/logger'
import { TypedEventEmitter, type Connection, type Libp2pEvents, type PeerId } from '@libp2p/interface'
import { connectionAdmission, connectionLimits, JOIN_TURNS, type ConnectionTrim, type ConnectionTrimComponents } from '../../src/services/connection-trim.ts'
import { randomPeerId } from '../helpers/announce.ts'

/** A connection as the trimmer sees it: its peer, age, direction and streams; closing removes it */
function connection (all: Connection[], openedAt: number, peer: PeerId = randomPeerId()): Connection {
  const c = {
    remotePeer: peer,
    direction: 'inbound',
    streams: [],
    timeline: { open: openedAt },
    addEventListener: () => {},
    close: async () => { all.splice(all.indexOf(c as unknown as Connection), 1) },
    abort: () => { all.splice(all.indexOf(c as unknown as Connection), 1) }
  }
  all.push(c as unknown as Connection)
  return c as unknown as Connection
}

/** A trimmer over a list of connections, with an empty peer store, and its connection gater */
function trimmer (max: number, graceMs: number, cooldownMs = 60_000, refusedBackoffMs?: number): { trim: ConnectionTrim, refuses: (peer: PeerId) => boolean, backsOff: (peer: PeerId) => boolean, connections: Connection[], events: TypedEventEmitter<Libp2pEvents> } {
  const connections: Connection[] = []
  const events = new TypedEventEmitter<Libp2pEvents>()
  const components = {
    connectionManager: { getConnections: () => [...connections] },
    peerStore: { get: async () => { throw new Error('not found') }, merge: async () => {} },
    logger: defaultLogger(),
    events
  } as unknown as ConnectionTrimComponents
  const admission = connectionAdmission({ limits: connectionLimits(max), graceMs, cooldownMs, refusedBackoffMs })
  const trim = admission.trim(components)
  return {
    trim,
    refuses: peer => admission.gater.denyInboundEncryptedConnection!(peer, undefined as never) as boolean,
    backsOff: peer => admission.gater.denyDialPeer!(peer) as boolean,
    connections,
    events
  }
}

describe('connection trimming and the admission of newcomers past the limit', () => {
  it('admits twice as many newcomers past the limit as the limit itself, and trims to the low-water mark', () => {
    assert.deepEqual(connectionLimits(100), { max: 100, lowWater: 80, hard: 300 })
    assert.deepEqual(connectionLimits(3), { max: 3, lowWater: 2, hard: 9 })
  })

  it('closes only connections past their grace, and the rest as soon as their grace ends', async () => {
    const { trim, connections, events } = trimmer(4, 300)
    const now = Date.now()
    for (let i = 0; i < 4; i++) connection(connections, now - 10_000)
    const young = Array.from({ length: 5 }, () => connection(connections, now))
    trim.start()
    try {
      events.safeDispatchEvent('connection:open', { detail: young[4] })
      await new Promise(resolve => setTimeout(resolve, 50))
      // the old ones go down to the low-water mark of 3, not further for the young (a burst of newcomers
      // does not flush the node's established peers); the young all stay
      assert.equal(connections.length, 8)
      assert.ok(young.every(c => connections.includes(c)))
      // and when their grace is over, the trimmer runs by itself (long before its periodic check), and keeps
      // the established ones
      await new Promise(resolve => setTimeout(resolve, 500))
      assert.equal(connections.length, 3)
      assert.ok(connections.every(c => !young.includes(c)))
    } finally {
      trim.stop()
    }
  })

  it(`refuses a peer trimmed ${JOIN_TURNS} times lately while the node is at its limit, and no one else`, async () => {
    const { trim, refuses, connections } = trimmer(2, 0)
    const returning = randomPeerId()
    for (let turn = 0; turn < JOIN_TURNS; turn++) {
      assert.equal(refuses(returning), false, `refused before its turn ${turn + 1}`)
      connection(connections, 0)
      connection(connections, 0)
      connection(connections, 1, returning)
      await trim.trim()
      assert.ok(!connections.some(c => c.remotePeer.equals(returning)), 'the newest connection was not trimmed')
      connections.length = 0
    }
    // below the limit everyone is let in; at the limit the returning peer is refused, a newcomer is not
    assert.equal(refuses(returning), false)
    connection(connections, 0)
    connection(connections, 0)
    assert.equal(refuses(returning), true)
    assert.equal(refuses(randomPeerId()), false)
  })

  it('backs off dialling a peer that closed a connection before its grace ended (not one it closed itself), twice as long each time, and no longer once one outlives it', async () => {
    const { trim, backsOff, events } = trimmer(10, 1_000, 60_000, 50)
    trim.start()
    try {
      const peer = randomPeerId()
      /** a connection to the peer, opened at `openedAt`, and closed by the peer, or by this node if `here` */
      const close = (openedAt: number, here = false): void => {
        const c = Object.assign(new EventTarget(), { remotePeer: peer, timeline: { open: openedAt }, close: async () => {}, abort: () => {} }) as unknown as Connection
        events.safeDispatchEvent('connection:open', { detail: c })
        if (here) void c.close()
        c.dispatchEvent(new Event('close'))
      }
      close(Date.now(), true)
      assert.equal(backsOff(peer), false, 'backing off a peer after closing a young connection itself')
      close(Date.now())
      assert.equal(backsOff(peer), true)
      assert.equal(backsOff(randomPeerId()), false)
      await new Promise(resolve => setTimeout(resolve, 70))
      assert.equal(backsOff(peer), false, 'still backing off after the first 50 ms')
      close(Date.now())
      await new Promise(resolve => setTimeout(resolve, 70))
      assert.equal(backsOff(peer), true, 'the second refusal did not double the backoff')
      close(Date.now() - 2_000)
      assert.equal(backsOff(peer), false, 'a connection that outlived its grace did not end the backoff')
    } finally {
      trim.stop()
    }
  })

  it('lets a refused peer in again once its cooldown is over', async () => {
    const { trim, refuses, connections } = trimmer(1, 0, 100)
    const peer = randomPeerId()
    for (let turn = 0; turn < JOIN_TURNS; turn++) {
      connection(connections, 0)
      connection(connections, 1, peer)
      await trim.trim()
      connections.length = 0
    }
    connection(connections, 0)
    assert.equal(refuses(peer), true)
    await new Promise(resolve => setTimeout(resolve, 150))
    assert.equal(refuses(peer), false)
  })
})
