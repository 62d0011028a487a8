/**
 * Buildroot bandwidth: the bytes of buildroot packages volunteers download from mirrors vs from peers over a
 * run of jobs that share most of their buildroot (docs/bench.md). Real parts only: packages built with
 * rpmbuild, a createrepo_c mirror over HTTP on 127.0.0.1, volunteers that are libp2p nodes (TCP on 127.0.0.1,
 * the blob protocol and the package protocol) each with its own PackageCache. Each job names a buildroot of
 * `--shared` common packages plus `--per-job` packages drawn from `--variants`; `--builders` volunteers of
 * `--volunteers` obtain it at once. The same run is made twice: volunteers that ask peers first, and
 * volunteers that use only the mirror (each still caches what it fetched).
 *
 *   npx node bench/buildroot-bandwidth.ts [--jobs 50] [--volunteers 5] [--builders 3] [--shared 20] [--variants 12] [--per-job 3]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { makeBuildrootPackage, manifestOf, serveMirror } from '../test/helpers/buildroot.ts'
import { connectAll, startVolunteer, stopVolunteers, type Volunteer } from '../test/helpers/package-peers.ts'
import { markdownTable, reportFigures } from './lib/summary.ts'

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '50' },
    volunteers: { type: 'string', default: '5' },
    builders: { type: 'string', default: '3' },
    shared: { type: 'string', default: '20' },
    variants: { type: 'string', default: '12' },
    'per-job': { type: 'string', default: '3' }
  }
})
const JOBS = Number(values.jobs)
const VOLUNTEERS = Number(values.volunteers)
const BUILDERS = Number(values.builders)
const SHARED = Number(values.shared)
const VARIANTS = Number(values.variants)
const PER_JOB = Number(values['per-job'])

/** A deterministic stream of numbers, so both runs see the same jobs */
function* numbers (seed: number): Generator<number> {
  let x = seed
  for (;;) { x = (x * 1103515245 + 12345) % 2 ** 31; yield x }
}

interface Totals { mirror: number, peers: number, perVolunteer: Array<{ mirror: number, peers: number }> }

async function run (mirrorUrl: string, jobs: string[][], usePeers: boolean): Promise<Totals> {
  const vs: Volunteer[] = []
  try {
    for (let i = 0; i < VOLUNTEERS; i++) vs.push(await startVolunteer([mirrorUrl], { peers: usePeers }))
    await connectAll(vs)
    for (let j = 0; j < jobs.length; j++) {
      const { manifest } = await manifestOf(jobs[j])
      const seats = Array.from({ length: BUILDERS }, (_, k) => vs[(j + k) % VOLUNTEERS])
      const held = await Promise.all(seats.map(async v => v.cache.obtain(manifest)))
      for (const h of held) h.release()
    }
    const perVolunteer = vs.map(v => ({ mirror: v.cache.stats.fromMirrors, peers: v.cache.stats.fromPeers }))
    return { mirror: perVolunteer.reduce((n, v) => n + v.mirror, 0), peers: perVolunteer.reduce((n, v) => n + v.peers, 0), perVolunteer }
  } finally {
    await stopVolunteers(vs)
  }
}

const dir = await mkdtemp(join(tmpdir(), 'skyline-bench-buildroot-'))
try {
  const t0 = Date.now()
  const shared: string[] = []
  for (let i = 0; i < SHARED; i++) shared.push(await makeBuildrootPackage(join(dir, 'pkgs'), `skyline-base${i}`, '1.0'))
  const variants: string[] = []
  for (let i = 0; i < VARIANTS; i++) variants.push(await makeBuildrootPackage(join(dir, 'pkgs'), `skyline-extra${i}`, '1.0'))
  const mirror = await serveMirror(join(dir, 'mirror'), [...shared, ...variants])
  process.stdout.write(`${SHARED + VARIANTS} packages built and served in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`)
  const rnd = numbers(42)
  const jobs = Array.from({ length: JOBS }, () => {
    const extra = new Set<string>()
    while (extra.size < Math.min(PER_JOB, VARIANTS)) extra.add(variants[rnd.next().value % VARIANTS])
    return [...shared, ...extra]
  })
  let perJob = 0
  for (const j of jobs) perJob += (await manifestOf(j)).manifest.packages.reduce((n, p) => n + p.size, 0)
  const withPeers = await run(mirror.url, jobs, true)
  const mirrorOnly = await run(mirror.url, jobs, false)
  mirror.server.close()
  const kib = (n: number): string => (n / 1024).toFixed(1)
  process.stdout.write(`\n${JOBS} jobs, ${BUILDERS} of ${VOLUNTEERS} volunteers each, buildroot ${SHARED} shared + ${PER_JOB} of ${VARIANTS} packages; ` +
    `buildroots total ${kib(perJob * BUILDERS)} KiB over all builds (${kib(perJob / JOBS)} KiB a job)\n\n`)
  const rows = [['volunteer', 'mirror only: from mirror KiB', 'with peers: from mirror KiB', 'with peers: from peers KiB']]
  for (let i = 0; i < VOLUNTEERS; i++) rows.push([String(i), kib(mirrorOnly.perVolunteer[i].mirror), kib(withPeers.perVolunteer[i].mirror), kib(withPeers.perVolunteer[i].peers)])
  rows.push(['all', kib(mirrorOnly.mirror), kib(withPeers.mirror), kib(withPeers.peers)])
  process.stdout.write(markdownTable(rows, ['l', 'r', 'r', 'r']) + '\n')
  const saved = 1 - withPeers.mirror / mirrorOnly.mirror
  process.stdout.write(`\nmirror bytes with peers: ${(100 * withPeers.mirror / mirrorOnly.mirror).toFixed(1)}% of mirror-only (${(100 * saved).toFixed(1)}% saved); ` +
    `a volunteer downloads ${kib(withPeers.mirror / VOLUNTEERS)} KiB from mirrors and ${kib(withPeers.peers / VOLUNTEERS)} KiB from peers on average\n`)
  reportFigures('buildroot-bandwidth', {
    jobs: JOBS,
    mirrorOnlyMirrorKiB: Number(kib(mirrorOnly.mirror)),
    withPeersMirrorKiB: Number(kib(withPeers.mirror)),
    withPeersPeerKiB: Number(kib(withPeers.peers)),
    mirrorSavedPct: Number((100 * saved).toFixed(1))
  })
} finally {
  await rm(dir, { recursive: true, force: true })
}
