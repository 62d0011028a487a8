/**
 * The node's TCP transport writes once per socket per turn of the event loop (src/node/write-coalescing.ts):
 * two real libp2p stacks (createSkylineLibp2p) on 127.0.0.1, the socket writes counted at net.Socket.
 */
import { strict as assert } from 'node:assert'
import { Socket } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { createSkylineLibp2p } from '../../src/node/libp2p.ts'
import type { SkylineLibp2p } from '../../src/services/components.ts'
import { waitFor } from '../helpers/mesh.ts'

const PROTOCOL = '/skyline-test/writes/1.0.0'

/** Writes net.Socket hands to the kernel in this process while `fn` runs (`_write` and `_writev` calls) */
async function kernelWrites (fn: () => Promise<void>): Promise<number> {
  const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>
  const originals = { _write: proto._write, _writev: proto._writev }
  let count = 0
  for (const method of ['_write', '_writev'] as const) {
    proto[method] = function (this: Socket, ...args: unknown[]) { count++; return originals[method].apply(this, args) }
  }
  try {
    await fn()
  } finally {
    Object.assign(proto, originals)
  }
  return count
}

async function node (): Promise<SkylineLibp2p> {
  const libp2p = await createSkylineLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], maxConnections: 10, inboundConnectionThreshold: 10 })
  await libp2p.start()
  return libp2p
}

/** Reads `bytes` bytes from a stream */
async function readAll (stream: Stream, bytes: number): Promise<Uint8Array> {
  const out = new Uint8Array(bytes)
  let at = 0
  for await (const chunk of stream) {
    const data = chunk.subarray()
    out.set(data, at)
    at += data.byteLength
    if (at >= bytes) break
  }
  assert.equal(at, bytes)
  return out
}

describe('coalesced socket writes (src/node/write-coalescing.ts)', function () {
  let a: SkylineLibp2p
  let b: SkylineLibp2p
  let received: Promise<Uint8Array>
  let expect = 0

  beforeEach(async function () {
    [a, b] = await Promise.all([node(), node()])
    received = new Promise(resolve => {
      void b.handle(PROTOCOL, async stream => { resolve(await readAll(stream, expect)) })
    })
  })

  afterEach(async function () {
    await Promise.all([a?.stop(), b?.stop()])
  })

  it('ten frames sent in one turn leave in a few socket writes (one per socket), not two each, and arrive intact', async function () {
    expect = 10 * 100
    const stream = await a.dialProtocol(b.getMultiaddrs()[0], PROTOCOL)
    // the stream's opening frames and both identify exchanges are out (under load identify can take longer
    // than a fixed wait, and its frames would be counted here)
    const identified = async (x: SkylineLibp2p, y: SkylineLibp2p): Promise<boolean> => ((await x.peerStore.get(y.peerId).catch(() => undefined))?.protocols.length ?? 0) > 0
    await waitFor('identify both ways', async () => await identified(a, b) && await identified(b, a))
    await new Promise(resolve => setTimeout(resolve, 200))
    const sent = new Uint8Array(expect).map((_, i) => i % 251)
    const writes = await kernelWrites(async () => {
      // each send is a Yamux frame and a Noise message: its length and its ciphertext, two writes uncoalesced
      for (let i = 0; i < 10; i++) stream.send(sent.subarray(i * 100, (i + 1) * 100))
      await new Promise(resolve => setImmediate(resolve))
      await new Promise(resolve => setImmediate(resolve))
    })
    assert.ok(writes <= 4, `${writes} socket writes for 10 frames sent in one turn`)
    assert.deepEqual(await received, sent)
  })

  it('a transfer larger than the socket buffer still arrives whole (backpressure through the cork)', async function () {
    expect = 8 * 1024 * 1024
    const stream = await a.dialProtocol(b.getMultiaddrs()[0], PROTOCOL)
    const sent = new Uint8Array(expect).map((_, i) => (i * 7) % 256)
    for (let at = 0; at < expect; at += 64 * 1024) {
      if (!stream.send(sent.subarray(at, at + 64 * 1024))) await stream.onDrain()
    }
    assert.deepEqual(await received, sent)
  })
})
