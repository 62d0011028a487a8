/**
 * What the Builder adds to a bare rebuild of the demo package (packaging/demo/hello-skyline.spec).
 *
 *   npx node bench/build-overhead.ts [--runs 5]
 *
 * 1. Builds and signs the demo SRPM (test/helpers/srpm.ts).
 * 2. Alternately, --runs times each: a bare `rpmbuild --rebuild` (same reproducibility defines, fresh
 *    topdir, fixed environment, no sandbox, normal priority), and `builder.build()` (work-dir set-up, idle
 *    priority, bubblewrap, rpmbuild, the RPMs streamed out of the sandbox and hashed as they are written).
 * 3. Measures the parts of the overhead on their own: an empty sandbox (`bwrap ... true` with the build's
 *    arguments), and hashing the output RPMs.
 * Prints medians and the overhead. The build runs at SCHED_IDLE, so on a busy machine it waits for idle CPU:
 * the load average is printed too. (Announcement-to-build-start is measured elsewhere.)
 */
import { execFileSync } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { detectBuilder, hashFiles, reproducibleDefines } from '../src/builder/index.ts'
import { BUILD_LANG, BUILD_PATH, BUILD_TZ } from '../src/builder/constants.ts'
import { DEMO_SPEC, makeSignedSrpm } from '../test/helpers/srpm.ts'
import { reportFigures } from './lib/summary.ts'

const { values: opts } = parseArgs({ options: { runs: { type: 'string', default: '5' } } })
const runs = Math.max(1, Number(opts.runs))

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const ms = (x: number): string => `${x.toFixed(1)} ms`

const detected = await detectBuilder('rpmbuild')
if (detected.builder === undefined) {
  console.error(`no rpmbuild builder: ${detected.reason}`)
  process.exit(1)
}
const builder = detected.builder
const dir = await mkdtemp(join(tmpdir(), 'skyline-bench-build-'))
await chmod(dir, 0o711)
try {
  const { srpmPath, nevra } = await makeSignedSrpm(join(dir, 'srpm'), { spec: DEMO_SPEC })
  console.info(`demo package ${nevra}; ${runs} runs each; load average ${loadavg().map(l => l.toFixed(2)).join(' ')}`)

  const bare: number[] = []
  const full: number[] = []
  const hashes: number[] = []
  let lastHash = ''
  for (let i = 0; i < runs; i++) {
    const topdir = join(dir, `bare-${i}`)
    await mkdir(topdir)
    const t0 = performance.now()
    execFileSync('rpmbuild', ['--rebuild', '--define', `_topdir ${topdir}`, ...reproducibleDefines(), srpmPath], {
      env: { PATH: BUILD_PATH, HOME: topdir, LANG: BUILD_LANG, TZ: BUILD_TZ }, stdio: 'ignore'
    })
    bare.push(performance.now() - t0)

    const t1 = performance.now()
    const r = await builder.build(srpmPath, { workDir: join(dir, `full-${i}`) })
    full.push(performance.now() - t1)
    if (r.status !== 'ok') throw new Error(`build failed: ${r.reason}\n${r.logExcerpt}`)
    if (lastHash !== '' && r.buildHash !== lastHash) throw new Error('build hash changed between runs')
    lastHash = r.buildHash ?? ''

    const rpms = (await readdir(r.outputDir)).map(n => join(r.outputDir, n))
    const t2 = performance.now()
    await hashFiles(rpms)
    hashes.push(performance.now() - t2)
  }

  // an empty sandbox with the build's own command line, `true` instead of rpmbuild
  // (the SRPM on fd 3, which bwrap copies into the sandbox's tree)
  const argv = (builder as any).commandLine('x.src.rpm', join(dir, 'empty')) as string[]
  const sandboxOnly = argv.slice(0, argv.indexOf('--') + 1)
  const setups: number[] = []
  const srpmFd = openSync(srpmPath, 'r')
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    execFileSync(sandboxOnly[0], [...sandboxOnly.slice(1), '/bin/true'], { env: { PATH: BUILD_PATH }, stdio: ['ignore', 'pipe', 'pipe', srpmFd] })
    setups.push(performance.now() - t)
  }
  closeSync(srpmFd)

  const overhead = median(full) - median(bare)
  console.info(`bare rpmbuild --rebuild           ${ms(median(bare))}  (min ${ms(Math.min(...bare))})`)
  console.info(`Builder (sandbox, idle, hash)     ${ms(median(full))}  (min ${ms(Math.min(...full))})`)
  console.info(`overhead                          ${ms(overhead)}  (${(100 * overhead / median(bare)).toFixed(0)} %)`)
  console.info(`  of which empty sandbox start    ${ms(median(setups))}`)
  console.info(`  of which hashing the RPMs       ${ms(median(hashes))}`)
  console.info(`  rest (work dir, SRPM copy, log, output stream, priority wrappers): ${ms(overhead - median(setups) - median(hashes))}`)
  console.info(`build hash ${lastHash}`)
  reportFigures('build-overhead', { runs, bareMs: median(bare), builderMs: median(full), overheadMs: overhead, sandboxMs: median(setups), hashMs: median(hashes) })
} finally {
  await rm(dir, { recursive: true, force: true })
}
