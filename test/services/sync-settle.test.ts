/**
 * A reconnect ask waits until the peer's connection has lasted RECONNECT_SETTLE_MS: a connection opened for a
 * moment (the seeder checking a candidate it is not connected to, a newcomer learning peers) and closed by
 * the trimmer within its grace started a sync exchange each way, for what the mesh brings anyway (at 1,000
 * nodes, 11 KB of the seeder's 55 KB per job). SyncService on a stand-in for libp2p's events, so the timing
 * is exact: a real node's reconnect queue redials on its own.
 */
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { Store } from '../../src/store/store.ts'
import { RECONNECT_SETTLE_MS, SYNC_PROTOCOL, SyncService } from '../../src/services/sync.ts'
import { JOIN_GRACE_MS, TRIM_CHECK_MS } from '../../src/services/connection-trim.ts'

const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** libp2p as SyncService sees it: identify and disconnect events, open connections, and dials (recorded, refused) */
class StandIn extends EventTarget {
  readonly connected = new Set<string>()
  readonly dialled: string[] = []
  async handle (): Promise<void> {}
  async unhandle (): Promise<void> {}
  getConnections (peer: PeerId): unknown[] {
    return this.connected.has(peer.toString()) ? [{}] : []
  }

  async dialProtocol (peer: PeerId): Promise<never> {
    this.dialled.push(peer.toString())
    throw new Error('refused by the stand-in')
  }

  connect (peer: PeerId): void {
    this.connected.add(peer.toString())
    this.dispatchEvent(new CustomEvent('peer:identify', { detail: { peerId: peer, protocols: [SYNC_PROTOCOL] } }))
  }

  disconnect (peer: PeerId): void {
    this.connected.delete(peer.toString())
    this.dispatchEvent(new CustomEvent('peer:disconnect', { detail: peer }))
  }
}

describe('sync: a reconnect ask waits for the connection to settle', () => {
  it('a peer whose connection closes within the settle time is not asked; one whose connection lasts is asked once it has', async () => {
    // the default outlasts the trimmer's grace for a connection past the limit
    assert.ok(RECONNECT_SETTLE_MS > JOIN_GRACE_MS + TRIM_CHECK_MS)
    const libp2p = new StandIn()
    const log = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false })
    const settle = 400
    const sync = new SyncService({ libp2p: libp2p as any, store: new Store(':memory:'), sink: { ingest: async () => false }, log: log as any, peers: 3, rejoinPeers: 0, jitterMs: 0, antiEntropyMs: 0, reconnectSettleMs: settle })
    await sync.start()
    try {
      const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
      // met: a start ask (refused by the stand-in), then gone
      libp2p.connect(peer)
      await sleep(50)
      assert.deepEqual([sync.stats.reasons.start, libp2p.dialled.length], [1, 1])
      libp2p.disconnect(peer)
      // back for a moment
      libp2p.connect(peer)
      await sleep(settle / 4)
      libp2p.disconnect(peer)
      await sleep(settle * 2)
      assert.deepEqual([sync.stats.reasons.reconnect, sync.stats.settleDropped, libp2p.dialled.length], [0, 1, 1], 'a passing connection was asked (or its ask redialled the peer)')
      // back to stay
      const back = Date.now()
      libp2p.connect(peer)
      await sleep(settle / 2)
      assert.equal(sync.stats.reasons.reconnect, 0, 'asked before the connection settled')
      // (and, a peer that flaps, at least RECONNECT_RESYNC_MS, 5 s, after it was last asked: the start ask)
      for (let i = 0; i < 400 && sync.stats.reasons.reconnect === 0; i++) await sleep(20)
      assert.equal(sync.stats.reasons.reconnect, 1)
      assert.ok(Date.now() - back >= settle)
      assert.deepEqual(libp2p.dialled, [peer.toString(), peer.toString()])
    } finally {
      await sync.stop()
    }
  })
})
