/**
 * Blob transfer benchmark: one seeder and N fetchers (separate processes by default, each a libp2p node
 * built by createSkylineLibp2p on 127.0.0.1 TCP), a 50 MB blob found through DHT provider records and fetched
 * by all at once; then a raw TCP copy of the same bytes over loopback (node:net) in the same run.
 *
 *   npx node bench/blob-transfer.ts [--size-mb 50] [--fetchers 10] [--in-process]
 *
 * Prints the seeder's upload / blob size, total time, throughput per fetcher, and the raw TCP numbers with
 * ratios. On a shared or small machine every figure depends on load: the CPU count and load are printed too.
 */
import { createServer, connect, type AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createSkylineLibp2p } from '../src/node/libp2p.ts'
import type { SkylineLibp2p } from '../src/services/components.ts'
import { refOf, type BlobRef } from '../src/services/blob/index.ts'
import { reportFigures } from './lib/summary.ts'

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '50' },
    fetchers: { type: 'string', default: '10' },
    'in-process': { type: 'boolean', default: false },
    role: { type: 'string' },
    bootstrap: { type: 'string' },
    file: { type: 'string' }
  }
})
const MB = 1024 * 1024

async function startLibp2p (dir: string, bootstrap?: string): Promise<SkylineLibp2p> {
  const node = await createSkylineLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: [multiaddr('/ip4/127.0.0.1/tcp/0')],
    bootstrap: bootstrap !== undefined ? [multiaddr(bootstrap)] : [],
    maxConnections: 200,
    inboundConnectionThreshold: 1000,
    blobDir: join(dir, 'blobs')
  })
  await node.start()
  return node
}

/** kad-dht's routing table has a size; its exported interface does not declare it */
function routingTableSize (node: SkylineLibp2p): number {
  return (node.services.dht as any).routingTable.size
}

type Msg = { type: 'ready', addr?: string, ref?: BlobRef } | { type: 'done', at: number } | { type: 'stats', uploaded: number, downloaded: number } | { type: 'error', error: string }

/** A child: a seeder (adds the file) or a fetcher (fetches when told) */
async function child (role: string): Promise<void> {
  const send = (m: Msg): void => { process.send!(m) }
  const dir = mkdtempSync(join(tmpdir(), `skyline-bench-${role}-`))
  const node = await startLibp2p(dir, values.bootstrap)
  let ref: BlobRef | undefined
  if (role === 'seeder') {
    ref = refOf(await node.services.blobs.add(values.file!))
    send({ type: 'ready', addr: node.getMultiaddrs()[0].toString(), ref })
  } else {
    // wait until the DHT knows at least the bootstrap node
    while (routingTableSize(node) === 0) await new Promise(resolve => setTimeout(resolve, 50))
    send({ type: 'ready' })
  }
  process.on('message', (m: any) => {
    if (m.type === 'go') {
      node.services.blobs.fetch(m.ref, { signal: AbortSignal.timeout(600_000) })
        .then(() => { send({ type: 'done', at: Date.now() }) })
        .catch(err => { send({ type: 'error', error: String(err?.stack ?? err) }) })
    } else if (m.type === 'stats') {
      const s = node.services.blobs.stats()
      send({ type: 'stats', uploaded: s.uploaded, downloaded: s.downloaded })
    } else if (m.type === 'exit') {
      Promise.resolve(node.stop()).finally(() => { rmSync(dir, { recursive: true, force: true }); process.exit(0) })
    }
  })
}

async function rawTcp (data: Uint8Array, readers: number): Promise<number> {
  const server = createServer(sock => { sock.end(data) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const t0 = performance.now()
  await Promise.all(Array.from({ length: readers }, async () => new Promise<void>((resolve, reject) => {
    let got = 0
    const c = connect(port, '127.0.0.1')
    c.on('data', b => { got += b.byteLength })
    c.on('end', () => { if (got === data.byteLength) resolve(); else reject(new Error(`short read ${got}`)) })
    c.on('error', reject)
  })))
  const ms = performance.now() - t0
  server.close()
  return ms
}

class Proc {
  readonly cp: ChildProcess
  private readonly queue: Msg[] = []
  private waiting: ((m: Msg) => void) | undefined
  constructor (args: string[]) {
    this.cp = fork(import.meta.filename, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.cp.on('exit', (code, signal) => {
      if (!this.exiting) { console.error(`a child (${args.join(' ')}) exited early: code ${code}, signal ${signal}`); process.exit(1) }
    })
    this.cp.on('message', (m: Msg) => {
      if (m.type === 'error') { console.error(m.error); process.exit(1) }
      if (this.waiting !== undefined) { const w = this.waiting; this.waiting = undefined; w(m) } else this.queue.push(m)
    })
  }

  async next (): Promise<Msg> {
    const q = this.queue.shift()
    if (q !== undefined) return q
    return new Promise(resolve => { this.waiting = resolve })
  }

  exiting = false

  send (m: unknown): void {
    if ((m as { type?: string }).type === 'exit') this.exiting = true
    this.cp.send(m as any)
  }
}

async function inProcess (file: string, n: number): Promise<{ times: number[], seederUp: number, fetcherUp: number[], ref: BlobRef }> {
  const dir = mkdtempSync(join(tmpdir(), 'skyline-bench-'))
  const seeder = await startLibp2p(join(dir, 's'))
  const boot = seeder.getMultiaddrs()[0].toString()
  const fetchers = await Promise.all(Array.from({ length: n }, async (_, i) => startLibp2p(join(dir, `f${i}`), boot)))
  try {
    const ref = refOf(await seeder.services.blobs.add(file))
    for (const f of fetchers) while (routingTableSize(f) === 0) await new Promise(resolve => setTimeout(resolve, 50))
    const t0 = Date.now()
    const times = await Promise.all(fetchers.map(async f => { await f.services.blobs.fetch(ref); return Date.now() - t0 }))
    return { times, seederUp: seeder.services.blobs.stats().uploaded, fetcherUp: fetchers.map(f => f.services.blobs.stats().uploaded), ref }
  } finally {
    await Promise.allSettled([seeder, ...fetchers].map(async n => n.stop()))
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main (): Promise<void> {
  const size = Number(values['size-mb']) * MB
  const n = Number(values.fetchers)
  const dir = mkdtempSync(join(tmpdir(), 'skyline-bench-data-'))
  const file = join(dir, 'blob')
  const data = randomBytes(size)
  writeFileSync(file, data)
  const mode = values['in-process'] ? 'in one process' : 'one process per node'
  console.log(`blob transfer: ${size / MB} MB, 1 seeder + ${n} fetchers, ${mode}; ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)}`)
  let times: number[], seederUp: number, fetcherUp: number[]
  if (values['in-process']) {
    ({ times, seederUp, fetcherUp } = await inProcess(file, n))
  } else {
    const seeder = new Proc(['--role', 'seeder', '--file', file])
    const ready = await seeder.next() as { type: 'ready', addr: string, ref: BlobRef }
    const fetchers = Array.from({ length: n }, () => new Proc(['--role', 'fetcher', '--bootstrap', ready.addr]))
    for (const f of fetchers) await f.next()
    const t0 = Date.now()
    for (const f of fetchers) f.send({ type: 'go', ref: ready.ref })
    times = []
    for (const f of fetchers) times.push(((await f.next()) as { at: number }).at - t0)
    const stats = async (p: Proc): Promise<number> => { p.send({ type: 'stats' }); return ((await p.next()) as { uploaded: number }).uploaded }
    seederUp = await stats(seeder)
    fetcherUp = []
    for (const f of fetchers) fetcherUp.push(await stats(f))
    for (const p of [seeder, ...fetchers]) p.send({ type: 'exit' })
    await Promise.all([seeder, ...fetchers].map(async p => new Promise(resolve => p.cp.on('exit', resolve))))
  }
  const total = Math.max(...times)
  const perFetcher = size / MB / (total / 1000)
  console.log(`seeder upload: ${(seederUp / MB).toFixed(1)} MB = ${(seederUp / size).toFixed(3)} x the blob`)
  console.log(`fetchers' uploads (x the blob): ${fetcherUp.map(u => (u / size).toFixed(2)).join(' ')}`)
  console.log(`total time: ${(total / 1000).toFixed(2)} s (first fetcher done at ${(Math.min(...times) / 1000).toFixed(2)} s)`)
  console.log(`throughput per fetcher: ${perFetcher.toFixed(1)} MB/s; aggregate delivered: ${(perFetcher * n).toFixed(1)} MB/s`)
  const one = await rawTcp(data, 1)
  const many = await rawTcp(data, n)
  const rawOne = size / MB / (one / 1000)
  const rawMany = size / MB / (many / 1000)
  console.log(`raw TCP copy (node:net, loopback), 1 reader: ${(one / 1000).toFixed(3)} s, ${rawOne.toFixed(1)} MB/s`)
  console.log(`raw TCP copy, ${n} readers at once from one sender: ${(many / 1000).toFixed(3)} s, ${rawMany.toFixed(1)} MB/s per reader`)
  console.log(`ratio per-fetcher throughput / raw TCP 1 reader: ${(perFetcher / rawOne).toFixed(3)}`)
  console.log(`ratio per-fetcher throughput / raw TCP per reader with ${n} readers: ${(perFetcher / rawMany).toFixed(3)}`)
  reportFigures('blob-transfer', { sizeMB: size / MB, fetchers: n, mode, seederRatio: seederUp / size, totalS: total / 1000, perFetcherMBs: perFetcher, rawOneMBs: rawOne })
  rmSync(dir, { recursive: true, force: true })
}

if (values.role !== undefined) await child(values.role)
else await main()
