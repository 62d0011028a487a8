/**
 * Yamux window updates at half the window (src/node/yamux-window.ts): two real libp2p stacks
 * (createSkylineLibp2p) on 127.0.0.1; the window updates the sender receives are counted at js-yamux's
 * stream. Many small frames bring none; a transfer many windows long still flows and arrives whole.
 */
import { strict as assert } from 'node:assert'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import type { Stream } from '@libp2p/interface'
import { createSkylineLibp2p } from '../../src/node/libp2p.ts'
import type { SkylineLibp2p } from '../../src/services/components.ts'
import { waitFor } from '../helpers/mesh.ts'

const PROTOCOL = '/skyline-test/window/1.0.0'

async function node (): Promise<SkylineLibp2p> {
  const libp2p = await createSkylineLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], maxConnections: 10, inboundConnectionThreshold: 10 })
  await libp2p.start()
  return libp2p
}

/** Window updates (with no flag) received by the yamux stream `stream` while `fn` runs */
async function windowUpdatesTo (stream: Stream, fn: () => Promise<void>): Promise<number> {
  const proto = YamuxStream.prototype as unknown as { handleWindowUpdate: (frame: { header: { flag: number } }) => void }
  const original = proto.handleWindowUpdate
  let count = 0
  proto.handleWindowUpdate = function (this: unknown, frame) {
    if (this === stream && frame.header.flag === 0) count++
    original.call(this, frame)
  }
  try {
    await fn()
  } finally {
    proto.handleWindowUpdate = original
  }
  return count
}

describe('yamux window updates at half the window (src/node/yamux-window.ts)', function () {
  let a: SkylineLibp2p
  let b: SkylineLibp2p
  /** bytes b has read on its end of the test stream */
  let read = 0
  let readAll: Promise<Uint8Array[]>

  beforeEach(async function () {
    [a, b] = await Promise.all([node(), node()])
    read = 0
    readAll = new Promise(resolve => {
      void b.handle(PROTOCOL, async stream => {
        const chunks: Uint8Array[] = []
        for await (const chunk of stream) {
          chunks.push(chunk.subarray())
          read += chunk.byteLength
        }
        resolve(chunks)
      })
    })
  })

  afterEach(async function () {
    await Promise.all([a?.stop(), b?.stop()])
  })

  it('200 small frames (a gossip stream) bring the sender no window update; js-yamux sent one per frame', async function () {
    const stream = await a.dialProtocol(b.getMultiaddrs()[0], PROTOCOL)
    assert.ok(stream instanceof YamuxStream, 'the stream is not js-yamux\'s: the test counts nothing')
    const updates = await windowUpdatesTo(stream, async () => {
      for (let i = 0; i < 200; i++) {
        stream.send(new Uint8Array(100).fill(i))
        // one frame per turn, as gossip RPCs go out
        await new Promise(resolve => setImmediate(resolve))
      }
      await waitFor('b to read the 200 frames', () => read >= 200 * 100)
      // time for any update b would send to arrive
      await new Promise(resolve => setTimeout(resolve, 200))
    })
    assert.equal(updates, 0, `${updates} window updates for 20 KB of a 256 KiB window`)
    await stream.close()
    const chunks = await readAll
    assert.equal(chunks.reduce((n, c) => n + c.byteLength, 0), 200 * 100)
  })

  it('a transfer of 40 windows flows (updates come at half the window) and arrives whole', async function () {
    const size = 10 * 1024 * 1024
    const stream = await a.dialProtocol(b.getMultiaddrs()[0], PROTOCOL)
    const sent = new Uint8Array(size).map((_, i) => (i * 13) % 251)
    let got: Uint8Array[] = []
    const updates = await windowUpdatesTo(stream, async () => {
      for (let at = 0; at < size; at += 64 * 1024) {
        if (!stream.send(sent.subarray(at, at + 64 * 1024))) await stream.onDrain({ signal: AbortSignal.timeout(20_000) })
      }
      await stream.close()
      got = await readAll
    })
    assert.deepEqual(Buffer.concat(got), Buffer.from(sent))
    // 40 windows cannot pass without updates; each covers at least half the 256 KiB window (js-yamux
    // alone sent one for every frame: 178 here)
    assert.ok(updates >= 1 && updates <= size / (128 * 1024), `${updates} window updates for ${size} bytes`)
  })
})
