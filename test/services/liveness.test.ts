/**
 * Connection liveness (src/services/liveness.ts): a connection whose peer stops answering is closed
 * within the ping interval plus the timeout, a live one is kept, and an idle node's pings open no stream.
 */
import { strict as assert } from 'node:assert'
import { rmSync } from 'node:fs'
import { defaultLogger } from '@libp2p/logger'
import { ConnectionLiveness, LIVENESS_INTERVAL_MS, LIVENESS_TIMEOUT_MS } from '../../src/services/liveness.ts'
import { startCli } from '../helpers/cli.ts'
import { pingStreamBytes, routingTableSize, startNode, tempDir, waitFor } from '../helpers/mesh.ts'

const READY = /skyline node (\S+)[\s\S]*status at (http:\/\/\S+)\/status/

describe('connection liveness', function () {
  this.timeout(120_000)

  it('closes the connection to a peer whose process stopped (SIGSTOP) within the interval plus the timeout, and keeps it while the peer answers', async () => {
    const node = await startNode()
    const dir = tempDir()
    const peer = await startCli(['node', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0', '--builder', 'none',
      '--bootstrap', node.libp2p.getMultiaddrs()[0].toString()], READY)
    const intervalMs = 500
    const timeoutMs = 1_000
    const liveness = new ConnectionLiveness({ connectionManager: node.libp2p, logger: defaultLogger() }, { intervalMs, timeoutMs })
    try {
      const peerId = peer.match[1]
      const connected = (): boolean => node.libp2p.getConnections().some(c => c.remotePeer.toString() === peerId)
      await waitFor('the peer to connect', connected, 30_000)
      liveness.start()
      // ten intervals of answered pings: the connection stays
      await new Promise(resolve => setTimeout(resolve, 10 * intervalMs))
      assert.ok(connected(), 'a peer that answers its pings was disconnected')

      peer.child.kill('SIGSTOP')
      const stoppedAt = Date.now()
      await waitFor('the connection to the stopped peer to close', () => !connected(), 30_000, 50)
      const tookMs = Date.now() - stoppedAt
      // the kernel still acknowledges the stopped process's TCP segments: only an unanswered ping tells
      assert.ok(tookMs <= intervalMs + timeoutMs + 1_500, `closed ${tookMs} ms after the peer stopped (interval ${intervalMs} + timeout ${timeoutMs} ms)`)
      assert.ok(tookMs >= timeoutMs - 100, `closed after ${tookMs} ms, before a ping could time out`)
    } finally {
      liveness.stop()
      peer.child.kill('SIGCONT')
      peer.child.kill('SIGKILL')
      await node.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('by default closes a silently dead connection within a minute', () => {
    assert.ok(LIVENESS_INTERVAL_MS + LIVENESS_TIMEOUT_MS <= 60_000)
  })

  it('an idle node pings its connections with the muxer\'s ping frame, not a ping stream', async function () {
    // one ping interval must pass; about 35 s
    this.timeout(LIVENESS_INTERVAL_MS + 60_000)
    const a = await startNode()
    const b = await startNode({ bootstrap: [a.libp2p.getMultiaddrs()[0].toString()] })
    try {
      await waitFor('b to connect to a', () => a.libp2p.getConnections().length > 0, 30_000)
      // kad-dht pings each new contact once (a ping stream) before it enters the routing table: not the idle cost
      await waitFor('both routing tables to hold the other', () => routingTableSize(a) > 0 && routingTableSize(b) > 0, 30_000)
      await new Promise(resolve => setTimeout(resolve, 2_000))
      const before = [await pingStreamBytes(a), await pingStreamBytes(b)]
      await new Promise(resolve => setTimeout(resolve, LIVENESS_INTERVAL_MS + 3_000))
      const connection = a.libp2p.getConnections(b.libp2p.peerId)[0]
      assert.ok(connection !== undefined && connection.status === 'open', 'the idle connection was closed')
      const rtt = (connection as unknown as { muxer: { getRTT: () => number } }).muxer.getRTT()
      assert.ok(rtt >= 0, 'no muxer ping was answered')
      assert.deepEqual([await pingStreamBytes(a), await pingStreamBytes(b)], before, 'ping streams while idle (bytes of a, of b)')
    } finally {
      await Promise.all([a.stop(), b.stop()])
      rmSync(a.config.dataDir, { recursive: true, force: true })
      rmSync(b.config.dataDir, { recursive: true, force: true })
    }
  })
})
