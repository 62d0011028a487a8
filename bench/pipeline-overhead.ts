/**
 * The pipeline around rpmbuild on a small package: announcement received at the builder → rpmbuild
 * started (assignment, SRPM fetch over the blob protocol, RPM signature check, sandbox setup), and
 * rpmbuild finished → build hash ready and recorded; against bare `rpmbuild --rebuild` of the same SRPM
 * in the same run. Two nodes on 127.0.0.1: a seeder (no builder) and a builder, r = 1.
 *
 *   npx node bench/pipeline-overhead.ts [--runs 5]
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startNode, tempDir, waitFor } from '../test/helpers/mesh.ts'
import { testAnnouncer } from '../test/helpers/announce.ts'
import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { makeSignedSrpm, DEMO_SPEC } from '../test/helpers/srpm.ts'
import { createAnnouncement } from '../src/protocols/announce.ts'
import { reproducibleDefines } from '../src/builder/index.ts'
import { reportFigures } from './lib/summary.ts'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } })
const runs = Number(values.runs)
const dir = tempDir('skyline-bench-')
const announcer = testAnnouncer()
const srpm = await makeSignedSrpm(join(dir, 'srpm'), { spec: DEMO_SPEC })

const seeder = await startNode({ announcers: [announcer.line], builder: 'none' })
const builder = await startNode({ announcers: [announcer.line], builder: 'rpmbuild', keyring: srpm.keyPath, bootstrap: [seeder.libp2p.getMultiaddrs()[0].toString()] })
await waitFor('the two nodes to meet', () => seeder.status().topics['/skyline/2/announce'].subscribers > 0 && builder.status().topics['/skyline/2/announce'].subscribers > 0)
await new Promise(resolve => setTimeout(resolve, 1500))

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const pre: number[] = []
const post: number[] = []
const inside: number[] = []
const bare: number[] = []
const defines = reproducibleDefines()

for (let i = 0; i < runs; i++) {
  // bare rpmbuild, same SRPM, same defines, no sandbox, no priority change
  const top = join(dir, `bare-${i}`)
  mkdirSync(top)
  const t = performance.now()
  execFileSync('rpmbuild', ['--rebuild', '--define', `_topdir ${top}`, ...defines, srpm.srpmPath], { stdio: 'ignore', env: { PATH: process.env.PATH, HOME: top, LANG: 'C.UTF-8', TZ: 'UTC' } })
  bare.push(performance.now() - t)
  rmSync(top, { recursive: true, force: true })

  // through the mesh: a fresh announcement (new beacon, new job) of the same SRPM
  const marks: Record<string, number> = {}
  let job = ''
  const onAnnouncement = (e: CustomEvent<{ job: string }>): void => { marks.announced ??= performance.now(); job = e.detail.job }
  const onProgress = (e: CustomEvent<{ job: string, phase: string, at: number }>): void => { if (e.detail.job === job) marks[e.detail.phase] ??= e.detail.at }
  const onBuilt = (e: CustomEvent<{ record: { job: string } }>): void => { if (e.detail.record.job === job) marks.built = performance.now() }
  builder.addEventListener('announcement', onAnnouncement as any)
  builder.jobs.addEventListener('progress', onProgress as any)
  builder.jobs.addEventListener('built', onBuilt as any)
  const m = await seeder.libp2p.services.blobs.add(srpm.srpmPath)
  const beacon = randomBytes(32)
  await seeder.announce(createAnnouncement({
    beacon,
    candidates: [peerIdFromString(builder.peerId.toString())],
    nevra: srpm.nevra, srpmSha256: Buffer.from(m.sha256, 'hex'), srpmSize: m.size, target: 'fedora-41-x86_64', replicas: 1, quorum: 1, chunkSize: m.chunkSize, chunkRoot: Buffer.from(m.root, 'hex'),
    provider: { peer: seeder.libp2p.peerId, addrs: seeder.libp2p.getMultiaddrs() }
  }, announcer.key))
  await waitFor('the build', () => marks.built !== undefined, 120_000, 5)
  builder.removeEventListener('announcement', onAnnouncement as any)
  builder.jobs.removeEventListener('progress', onProgress as any)
  builder.jobs.removeEventListener('built', onBuilt as any)
  pre.push(marks.start - marks.announced)
  inside.push(marks.hash - marks.start)
  post.push(marks.built - marks.hash)
}

await builder.stop()
await seeder.stop()
rmSync(dir, { recursive: true, force: true })

const b = median(bare)
const p = median(pre)
const q = median(post)
const row = (name: string, v: number, note = ''): string => `  ${name.padEnd(46)} ${v.toFixed(1).padStart(8)} ms ${note}`
console.log(`pipeline overhead around rpmbuild (${srpm.nevra}, ${runs} runs, medians)`)
console.log(row('bare rpmbuild --rebuild', b))
console.log(row('rpmbuild inside the sandbox (start → exit)', median(inside)))
console.log(row('announcement received → rpmbuild started', p, '(assign, fetch, verify, sandbox setup; target < 200 ms)'))
console.log(row('rpmbuild exited → build hash ready and recorded', q))
console.log(row('overhead (both)', p + q, `= ${((p + q) / 5000 * 100).toFixed(1)}% of a 5-second build (target < 10%), ${((p + q) / b * 100).toFixed(0)}% of this ${b.toFixed(0)} ms build`))
reportFigures('pipeline-overhead', { runs, bareMs: b, preMs: p, postMs: q, overheadMs: p + q, shareOf5s: (p + q) / 5000 })
console.log(`  all runs: pre ${pre.map(x => x.toFixed(0)).join(' ')} | post ${post.map(x => x.toFixed(0)).join(' ')} | bare ${bare.map(x => x.toFixed(0)).join(' ')}`)
