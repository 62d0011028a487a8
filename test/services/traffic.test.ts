/**
 * The traffic log (src/services/traffic.ts): real blob transfers between real nodes are counted per
 * protocol and per day in the store, the counts add up across a restart (the store reopened), and the
 * node's HTTP server answers /api/traffic with them (up to the moment) and with a row per day of the window.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { startNode } from '../helpers/mesh.ts'
import { refOf, PROTOCOL as BLOB_PROTOCOL } from '../../src/services/blob/index.ts'
import { SkylineNode } from '../../src/node/index.ts'
import { Store, utcDay, type TrafficRow } from '../../src/store/store.ts'
import { TRAFFIC_DAYS, type TrafficReport } from '../../src/node/traffic.ts'

const BLOB = 1024 * 1024

/** The store's rows of today, by protocol (the node stopped: its store is closed) */
function today (dataDir: string): Map<string, TrafficRow> {
  const store = new Store(join(dataDir, 'skyline.db'))
  try {
    return new Map(store.traffic(utcDay(Date.now())).map(r => [r.protocol, r]))
  } finally {
    store.close()
  }
}

describe('traffic log', function () {
  this.timeout(90_000)
  const nodes: SkylineNode[] = []
  after(async () => {
    await Promise.allSettled(nodes.map(async n => n.stop()))
    for (const n of nodes) rmSync(n.config.dataDir, { recursive: true, force: true })
  })

  async function transfer (server: SkylineNode, client: SkylineNode): Promise<void> {
    const m = await server.libp2p.services.blobs.add(randomBytes(BLOB), { provide: false })
    await client.libp2p.dial(server.libp2p.getMultiaddrs()[0])
    await client.libp2p.services.blobs.fetch(refOf(m), { providers: [server.libp2p.peerId], signal: AbortSignal.timeout(30_000) })
  }

  it('counts a real transfer per protocol, keeps the count across a restart, and serves it at /api/traffic', async () => {
    const server = await startNode({ http: '127.0.0.1:0' })
    const client = await startNode()
    nodes.push(server, client)
    await transfer(server, client)
    // a running node answers with the bytes up to the moment
    const live = await (await fetch(server.httpUrl + '/api/traffic')).json() as TrafficReport
    assert.ok((live.protocols.find(r => r.protocol === BLOB_PROTOCOL)?.sent ?? 0) >= BLOB, `live: ${JSON.stringify(live.protocols)}`)
    await server.stop()
    await client.stop()

    const s1 = today(server.config.dataDir)
    const c1 = today(client.config.dataDir)
    assert.ok((s1.get(BLOB_PROTOCOL)?.sent ?? 0) >= BLOB, `server blob bytes sent: ${JSON.stringify(s1.get(BLOB_PROTOCOL))}`)
    assert.ok((c1.get(BLOB_PROTOCOL)?.received ?? 0) >= BLOB, `client blob bytes received: ${JSON.stringify(c1.get(BLOB_PROTOCOL))}`)
    assert.ok((s1.get('global')?.sent ?? 0) > s1.get(BLOB_PROTOCOL)!.sent, 'the wire carries the blob bytes and their framing')
    assert.ok([...s1.keys()].some(p => p.startsWith('/ipfs/id/')), `identify is counted too: ${[...s1.keys()].join(' ')}`)

    // the same data directory again: the new process's counters start at zero, the log adds to its rows
    const again = new SkylineNode(server.config)
    await again.start()
    nodes.push(again)
    const client2 = await startNode()
    nodes.push(client2)
    await transfer(again, client2)
    await again.stop()
    await client2.stop()
    const s2 = today(server.config.dataDir)
    assert.ok(s2.get(BLOB_PROTOCOL)!.sent >= s1.get(BLOB_PROTOCOL)!.sent + BLOB, `blob bytes sent over both runs: ${s2.get(BLOB_PROTOCOL)!.sent}, first run ${s1.get(BLOB_PROTOCOL)!.sent}`)

    // the endpoint, on a third run of the node
    const third = new SkylineNode(server.config)
    await third.start()
    nodes.push(third)
    const res = await fetch(third.httpUrl + '/api/traffic')
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    const report = await res.json() as TrafficReport
    assert.equal(report.daily.length, TRAFFIC_DAYS)
    assert.equal(report.until, utcDay(Date.now()))
    const last = report.daily[report.daily.length - 1]
    assert.equal(last.day, report.until)
    assert.ok(last.sent >= s2.get('global')!.sent && last.received >= s2.get('global')!.received, 'today: both runs (and this one)')
    assert.ok(report.daily.slice(0, -1).every(d => d.sent === 0 && d.builds === 0), 'days before today have nothing')
    assert.equal(report.protocols.find(r => r.protocol === BLOB_PROTOCOL && r.day === last.day)?.sent, s2.get(BLOB_PROTOCOL)!.sent)
    const page = await (await fetch(third.httpUrl + '/')).text()
    assert.match(page, /<section id="traffic"/)
    assert.match(page, /<polyline class="line" points="[\d.]+,[\d.]+( [\d.]+,[\d.]+){29}"/)
  })
})
