/**
 * The volunteer's bandwidth caps on blob transfer (--max-upload, --max-download): a node capped at 256 KiB/s
 * serves, or fetches, a 1.25 MiB blob (5 chunks of 256 KiB) in no less than the cap allows (one chunk of
 * burst, then 4 more at 256 KiB/s: 4 s), over the real protocol between real nodes.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { startNode } from '../../helpers/mesh.ts'
import { refOf } from '../../../src/services/blob/index.ts'
import { Bandwidth } from '../../../src/services/blob/bandwidth.ts'
import { loadConfig } from '../../../src/node/index.ts'
import type { SkylineNode } from '../../../src/node/index.ts'

const KiB = 1024
const BLOB = 5 * 256 * KiB

describe('blob bandwidth caps', function () {
  this.timeout(60_000)
  const nodes: SkylineNode[] = []
  after(async () => {
    await Promise.allSettled(nodes.map(async n => n.stop()))
    for (const n of nodes) rmSync(n.config.dataDir, { recursive: true, force: true })
  })

  async function timedFetch (server: SkylineNode, client: SkylineNode): Promise<number> {
    const m = await server.libp2p.services.blobs.add(randomBytes(BLOB), { provide: false })
    await client.libp2p.dial(server.libp2p.getMultiaddrs()[0])
    const t0 = Date.now()
    await client.libp2p.services.blobs.fetch(refOf(m), { providers: [server.libp2p.peerId], signal: AbortSignal.timeout(30_000) })
    return (Date.now() - t0) / 1000
  }

  it('--max-upload: a capped server serves no faster than its cap', async () => {
    const server = await startNode({ maxUpload: '256K' })
    const client = await startNode()
    nodes.push(server, client)
    const s = await timedFetch(server, client)
    assert.ok(s >= 3.5, `1.25 MiB served in ${s.toFixed(2)} s at 256 KiB/s`)
  })

  it('--max-download: a capped client fetches no faster than its cap', async () => {
    const server = await startNode()
    const client = await startNode({ maxDownload: '256K' })
    nodes.push(server, client)
    const s = await timedFetch(server, client)
    assert.ok(s >= 3.5, `1.25 MiB fetched in ${s.toFixed(2)} s at 256 KiB/s`)
  })

  it('rates parse with K, M and G, and bad ones are config errors', () => {
    const dataDir = '/nonexistent'
    assert.equal(loadConfig({ dataDir, maxUpload: '2M', maxDownload: '500K' }).maxUpload, 2 * 1024 * 1024)
    assert.equal(loadConfig({ dataDir, maxDownload: '500K' }).maxDownload, 500 * 1024)
    assert.equal(loadConfig({ dataDir }).maxUpload, 0)
    assert.throws(() => loadConfig({ dataDir, maxUpload: 'fast' }), /--max-upload: bad rate 'fast'/)
  })

  it('the bucket: one second of burst, a larger chunk passes a full bucket and is paid off at the rate', () => {
    let now = 0
    const b = new Bandwidth(100 * KiB, () => now)
    assert.ok(b.tryTake(256 * KiB)) // a full bucket lets a chunk larger than a second's worth pass
    assert.ok(!b.tryTake(1))
    now += 1000
    assert.ok(!b.tryTake(1), 'still paying off the chunk')
    now += 1000
    assert.ok(b.tryTake(40 * KiB))
    assert.ok(!b.tryTake(40 * KiB))
    assert.ok(new Bandwidth(0).tryTake(10 * 1024 * KiB), 'rate 0: no cap')
  })
})
