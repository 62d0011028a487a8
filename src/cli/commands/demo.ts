/**
 * `skyline demo [--nodes N] [--keep]`: the whole flow on one machine. Makes a demo announcer key, a
 * throwaway OpenPGP key and the bundled hello-skyline SRPM signed with it, and a buildroot of made-up
 * packages served from a createrepo_c mirror on 127.0.0.1; starts N `skyline node` processes on 127.0.0.1
 * that trust both and use that mirror; seeds the SRPM with `skyline seed --buildroot`; follows the job on
 * every node (fetching, building, attestations) until each holds a final verdict; prints the verdict, the
 * build hash, the agreeing builders and the dissenters, and checks that every node reached the same verdict.
 * Fetches the agreed RPMs with `skyline fetch`; then seeds the next release in the same buildroot and shows
 * where each node took the buildroot's packages from (mirror, peers, its cache). Then stops the nodes (or,
 * with --keep, leaves them running). Exit 0 when both jobs are agreed on every node, 1 otherwise (missing
 * tools included), 2 on bad usage. Ctrl-C stops everything.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { parse } from '../args.ts'
import { UsageError, EXIT_OK, EXIT_REJECTED } from '../errors.ts'
import { generateAnnouncerKey } from '../../protocols/signing.ts'
import { DEMO_TOOLS, findTools } from '../demo/tools.ts'
import { DEMO_KEY_UID, makeDemoSrpm } from '../demo/srpm.ts'
import { DemoMesh, alive, type DemoNode } from '../demo/mesh.ts'
import { replicasFor, startSeed, type SeedProcess } from '../demo/seed.ts'
import { followJob, verdictKey, type FollowResult, type NodeVerdict } from '../demo/verdict.ts'
import { makeDemoBuildroot, serveDemoMirror, type DemoMirror } from '../demo/buildroot.ts'
import { bytes, cacheReport, samples, type CacheJob } from '../demo/cache.ts'

const HELP = `usage: skyline demo [--nodes N] [--keep] [--repo DIR] [--work-dir D] [--timeout SECONDS]
A local mesh on 127.0.0.1 that seeds a bundled signed SRPM with a buildroot manifest (made-up packages on a
local mirror), builds it, shows consensus, fetches the agreed RPMs into a dnf repository with 'skyline
fetch', then builds the next release in the same buildroot and shows where each node took its packages.
  --nodes N        node processes (default 6, at least 2); a panel of min(5, N) seats: the larger half build, the rest on dissent
  --repo DIR       the dnf repository of the agreed RPMs (default ./skyline-demo-repo; a previous demo's
                   repository there is replaced, any other non-empty folder refused)
  --keep           leave the nodes running at the end, with their dashboards (prints their PIDs)
  --work-dir D     where keys, SRPM and nodes live (default a new folder under $TMPDIR, removed at
                   the end unless the demo fails or --keep)
  --timeout S      give up waiting for the verdict after S seconds (default 300)
Needs rpmbuild, rpmsign, rpm, gpg and bwrap: 'npm run setup' (scripts/setup.sh) installs them.`

const SKYLINE = resolve(import.meta.dirname, '../../../bin/skyline')
const DEFAULT_NODES = 6
const MAX_NODES = 50
/** How long the mesh may take to connect fully before the demo settles for a usable one */
const CONNECT_TIMEOUT_MS = 20_000

class InterruptedError extends Error {
  static name = 'InterruptedError'
  override name = 'InterruptedError'
}

export async function run (argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    nodes: { type: 'string' },
    keep: { type: 'boolean' },
    'work-dir': { type: 'string' },
    repo: { type: 'string' },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  })
  if (values.help === true) { process.stdout.write(HELP + '\n'); return EXIT_OK }
  const n = int(values.nodes, '--nodes', DEFAULT_NODES)
  if (n > MAX_NODES) throw new UsageError(`--nodes must be at most ${MAX_NODES} (got ${n})`)
  if (n < 2) throw new UsageError(`--nodes must be at least 2: a panel has a stage-1 seat and an escalation seat (got ${n})`)
  const timeoutMs = int(values.timeout, '--timeout', 300) * 1000
  const keep = values.keep === true
  const out = process.stdout
  const repo = resolve(values.repo ?? 'skyline-demo-repo')
  clearDemoRepo(repo)

  // the tools first: nothing is started without them
  const tools = findTools(DEMO_TOOLS)
  if (tools.missing.length > 0) {
    process.stderr.write(`skyline demo: missing ${tools.missing.join(', ')}: the demo makes a signed SRPM (rpmbuild, rpmsign, rpm, gpg), its nodes rebuild it in a bubblewrap sandbox (bwrap), and the result becomes a dnf repository (createrepo_c).\n` +
      'Install them with: npm run setup   (scripts/setup.sh: rpm/rpm-build, rpm-sign, gnupg, bubblewrap, createrepo-c via apt or dnf)\n')
    return EXIT_REJECTED
  }

  let work: string
  let ownWorkDir = false
  if (values['work-dir'] !== undefined) {
    work = resolve(values['work-dir'])
    if (existsSync(work) && readdirSync(work).length > 0) throw new UsageError(`--work-dir ${work} is not empty`)
    mkdirSync(work, { recursive: true, mode: 0o700 })
  } else {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
    work = mkdtempSync(join(tmpdir(), `skyline-demo-${stamp}-`))
    ownWorkDir = true
  }

  const t0 = Date.now()
  const say = (line: string): void => { out.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${line}\n`) }
  const step = (i: number, text: string): void => { out.write(`\n== ${i}/6 ${text}\n`) }
  const env = { ...process.env }
  delete env.SOURCE_DATE_EPOCH // the builds fix their own (docs/build.md)
  delete env.SKYLINE_CONFIG

  // the nodes' buildrootMirrors, set once the demo's mirror listens (before the nodes start)
  const nodeConfig: Record<string, unknown> = {}
  const mesh = new DemoMesh({ dir: work, skyline: SKYLINE, builder: 'rpmbuild', keyring: join(work, 'srpm', 'RPM-GPG-KEY-skyline-demo'), announcer: join(work, 'announcer.key.pub'), env, config: nodeConfig })
  const seeds: SeedProcess[] = []
  let mirror: DemoMirror | undefined
  const interrupt = new AbortController()
  let signals = 0
  const onSignal = (name: string): void => {
    signals++
    if (signals === 1) {
      out.write(`\n${name}: stopping the demo (again to kill at once)\n`)
      interrupt.abort(new InterruptedError('interrupted'))
      return
    }
    // a second signal: no clean stop, but no stray processes either
    for (const node of mesh.nodes) if (alive(node)) kill(-node.pid, 'SIGKILL')
    for (const seed of seeds) if (seed.running() && seed.child.pid !== undefined) kill(-seed.child.pid, 'SIGKILL')
    process.exit(130)
  }
  const onSigint = (): void => onSignal('SIGINT')
  const onSigterm = (): void => onSignal('SIGTERM')
  process.on('SIGINT', onSigint)
  process.on('SIGTERM', onSigterm)
  const signal = interrupt.signal

  const { replicas, quorum, escalation } = replicasFor(n)
  let outcome: 'agreed' | 'failed' | 'interrupted' = 'failed'
  let keepRunning = false
  out.write(`skyline demo: ${n} nodes on 127.0.0.1 seed the bundled hello-skyline SRPM with a buildroot manifest, rebuild it (a panel of ${replicas}, ${escalation} more on dissent, threshold ${quorum}) and agree on its hash\n`)
  out.write(`work dir ${work}${ownWorkDir && !keep ? ' (removed at the end unless the demo fails; --keep keeps it)' : ''}\n`)

  /** Seeds one SRPM with the demo's buildroot and follows its job on every node; undefined when the seeder failed before announcing */
  const seedAndFollow = async (srpmPath: string, keyPath: string, manifestPath: string, dataDir: string): Promise<FollowResult | undefined> => {
    const seedFailed = new AbortController()
    const seed = startSeed({
      skyline: SKYLINE,
      env,
      args: [
        '--key', join(work, 'announcer.key'), '--keyring', keyPath, '--bootstrap', mesh.nodes[0].address!, '--buildroot', manifestPath,
        '--panel', String(replicas), '--escalation', String(escalation), '--threshold', String(quorum), '--listen', '/ip4/127.0.0.1/tcp/0',
        '--data-dir', dataDir, '--wait', String(Math.ceil(timeoutMs / 1000)), srpmPath
      ],
      onLine: (line, stream) => say(`seed${stream === 'stderr' ? '!' : ' '}| ${shortenPeers(line, mesh)}`)
    })
    seeds.push(seed)
    void seed.exited.then(code => {
      if (code === 0) return
      if (seed.jobPrefix === undefined) seedFailed.abort(new Error(`the seeder exited with ${code ?? 'a signal'} before announcing`))
      else say(`seeder exited with ${code ?? 'a signal'} (not every builder fetched the SRPM in time); following the job anyway`)
    })
    try {
      const followed = await followJob(mesh, {
        jobPrefix: () => seed.jobPrefix,
        replicas,
        timeoutMs,
        say,
        nameOf: p => nameOf(mesh, p),
        signal: AbortSignal.any([signal, seedFailed.signal])
      })
      if (seed.running()) await Promise.race([seed.exited, new Promise(resolve => setTimeout(resolve, 3_000))])
      return followed
    } catch (err: any) {
      if (seedFailed.signal.aborted && !signal.aborted) {
        out.write(`\nRESULT: no verdict: ${seedFailed.signal.reason.message}\n`)
        return undefined
      }
      throw err
    }
  }

  try {
    // keys, the signed SRPMs (this release and the next) and the buildroot on its mirror
    step(1, 'keys, the signed demo SRPM and its buildroot')
    const announcer = generateAnnouncerKey()
    writeFileSync(join(work, 'announcer.key'), announcer.privatePem, { mode: 0o600 })
    writeFileSync(join(work, 'announcer.key.pub'), announcer.publicLine('skyline-demo'), { mode: 0o644 })
    say('announcer key  announcer.key (+ .pub, trusted by every node)')
    const srpm = await makeDemoSrpm(join(work, 'srpm'), { signal, releases: ['1', '2'] })
    say(`signing key    ${DEMO_KEY_UID}, ${srpm.fingerprint !== '' ? `fingerprint ${srpm.fingerprint.slice(-16)}, ` : ''}public key ${rel(work, srpm.keyPath)} (the nodes' keyring)`)
    say(`SRPM           ${srpm.nevra}: ${rel(work, srpm.srpmPath)}, built with rpmbuild -bs and the reproducibility macros, signed with rpmsign`)
    const buildroot = await makeDemoBuildroot(join(work, 'buildroot'), { signal })
    mirror = await serveDemoMirror(buildroot.repoDir)
    nodeConfig.buildrootMirrors = [mirror.url]
    const pinned = buildroot.manifest.packages
    say(`buildroot      ${pinned.length} made-up packages (rpmbuild), ${bytes(pinned.reduce((a, p) => a + p.size, 0))}: ${pinned.map(p => `${p.name}-${p.version}`).join(', ')}`)
    say(`manifest       ${rel(work, buildroot.manifestPath)}, sha256 ${buildroot.sha256.slice(0, 16)}…: those packages by sigmd5 and content sha256, macro packager="${buildroot.manifest.macros.packager}"`)
    say(`mirror         ${mirror.url} (createrepo_c), every node's buildrootMirrors; it also offers ${buildroot.unpinned.join(', ')}, which the manifest does not pin`)

    // the mesh, connected
    step(2, `a mesh of ${n} node processes on 127.0.0.1`)
    await mesh.start(n, {
      signal,
      onStarted: node => say(`${node.name.padEnd(7)} pid ${String(node.pid).padEnd(7)} peer …${node.peerId?.slice(-8)}  ${node.httpUrl}  ${node.address}`)
    })
    const connected = await mesh.waitConnected({
      timeoutMs: CONNECT_TIMEOUT_MS,
      signal,
      onProgress: peers => say(`connected peers per node: ${peers.map(p => p < 0 ? '?' : String(p)).join(' ')}${n > 1 ? ` (want ${n - 1} each)` : ''}`)
    })
    say(connected.full ? 'every node is connected to every other' : `not fully connected after ${CONNECT_TIMEOUT_MS / 1000} s; every node has peers and a DHT routing table, going on`)

    // seed, and follow the job until every node holds a final verdict
    step(3, `seeding ${srpm.nevra} with the buildroot manifest (a panel of ${replicas} builders, ${escalation} more on dissent) and following the job on every node`)
    const cacheJobs: CacheJob[] = []
    const before = samples(await mesh.statuses(signal))
    const followed = await seedAndFollow(srpm.srpmPath, srpm.keyPath, buildroot.manifestPath, join(work, 'seed'))
    if (followed === undefined) return EXIT_REJECTED
    cacheJobs.push({ nevra: srpm.nevra, before, after: samples(await mesh.statuses(signal)) })

    step(4, 'result')
    let agreed = report(followed, mesh, { n, replicas, quorum, nevra: srpm.nevra }, line => out.write(line + '\n'))

    // the agreed RPMs back to the requester, with the real command
    if (agreed && followed.job !== undefined) {
      step(5, `skyline fetch: the agreed RPMs into a dnf repository at ${repo}`)
      const fetch = startSeed({
        skyline: SKYLINE,
        env,
        command: 'fetch',
        args: ['--repo', repo, '--bootstrap', mesh.nodes[0].address!, '--announcer', join(work, 'announcer.key.pub'), '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(work, 'fetch'), '--wait', '120', followed.job],
        onLine: (line, stream) => say(`fetch${stream === 'stderr' ? '!' : ' '}| ${shortenPeers(line, mesh)}`)
      })
      const code = await Promise.race([fetch.exited, new Promise<null>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))])
        .finally(async () => fetch.stop())
      if (code === 0) {
        writeFileSync(join(repo, 'skyline-demo.repo'), repoFile(repo))
        out.write(`REPO: ${repo}\n`)
        out.write(`  dnf config   ${join(repo, 'skyline-demo.repo')} (baseurl file://${repo}, gpgcheck off: the demo signs only the SRPM)\n`)
        out.write(`  try          dnf --setopt=reposdir=${repo} --repo skyline-demo repoquery --info hello-skyline\n`)
      } else {
        out.write(`REPO: not written: skyline fetch exited with ${code ?? 'a signal'}\n`)
        agreed = false
      }
    }

    // the package cache at work: the next release, in the same buildroot, built by its own panel
    const next = srpm.more[0]
    if (agreed && next !== undefined) {
      step(6, `the package cache: ${next.nevra}, the next release, in the same buildroot (a new job: a panel of its own)`)
      const before2 = samples(await mesh.statuses(signal))
      const second = await seedAndFollow(next.srpmPath, srpm.keyPath, buildroot.manifestPath, join(work, 'seed-2'))
      cacheJobs.push({ nevra: next.nevra, before: before2, after: samples(await mesh.statuses(signal)) })
      const v = second?.verdicts.find(x => x !== undefined)
      const same = second !== undefined && second.complete && second.verdicts.every(x => x !== undefined && verdictKey(x) === verdictKey(v!))
      out.write(`SECOND: ${v?.verdict.toUpperCase() ?? 'NO VERDICT'}  ${next.nevra}${v?.hash !== undefined ? ` ${v.hash.slice(0, 16)}…` : ''}${same ? `, all ${n} nodes` : ''}\n`)
      agreed = same && v?.verdict === 'agreed' && v.final
      for (const line of cacheReport(mesh.nodes.map(x => x.name), cacheJobs, mirror.served())) out.write(line + '\n')
    }
    outcome = agreed ? 'agreed' : 'failed'

    // where to look; the finally block stops (or keeps) the mesh
    out.write(`\ndashboard: ${mesh.nodes[0].httpUrl}/  (mesh, jobs, verdicts, leaderboard; live while the nodes run${keep ? '' : ': --keep leaves them up'})\n`)
    out.write('status endpoints (JSON; Prometheus metrics at /metrics; or: ./bin/skyline status --http URL):\n')
    for (const node of mesh.nodes) out.write(`  ${node.name.padEnd(7)} ${node.httpUrl}/status  pid ${node.pid}  log ${rel(work, node.logPath)}\n`)
    keepRunning = keep
    return agreed ? EXIT_OK : EXIT_REJECTED
  } catch (err: any) {
    if (signal.aborted) {
      outcome = 'interrupted'
      out.write(`\nRESULT: interrupted${keep ? ' (--keep ignored: Ctrl-C stops everything)' : ''}\n`)
      return EXIT_REJECTED
    }
    throw err
  } finally {
    // the signal handlers stay until everything is stopped: a second Ctrl-C while stopping kills at once
    try {
      for (const seed of seeds) await seed.stop()
      await mirror?.close()
      const running = mesh.nodes.filter(alive)
      if (keepRunning && running.length > 0) {
        mesh.detach()
        out.write(`\nthe mesh keeps running (--keep); work dir ${work}\n`)
        out.write(`stop it with:  kill ${running.map(node => node.pid).join(' ')}\n`)
      } else {
        if (running.length > 0) out.write(`\nstopping ${running.length} node${running.length === 1 ? '' : 's'} (SIGTERM)\n`)
        const killed = await mesh.stop()
        if (running.length > 0) out.write(killed.length === 0 ? 'every node stopped cleanly\n' : `killed after the grace period: ${killed.join(', ')}\n`)
        if (ownWorkDir && outcome !== 'failed' && !keep) {
          rmSync(work, { recursive: true, force: true })
        } else if (mesh.nodes.length > 0) {
          out.write(`logs in ${work}/node-<i>/node.log\n`)
        }
      }
    } finally {
      process.removeListener('SIGINT', onSigint)
      process.removeListener('SIGTERM', onSigterm)
    }
  }
}

interface ReportContext { n: number, replicas: number, quorum: number, nevra: string }

/** Prints the verdict and whether every node holds the same one; true for an agreed verdict everywhere */
function report (r: FollowResult, mesh: DemoMesh, ctx: ReportContext, line: (text: string) => void): boolean {
  const name = (p: string): string => nameOf(mesh, p)
  const order = (p: string): number => { const i = mesh.nodes.findIndex(x => x.peerId === p); return i < 0 ? mesh.nodes.length : i }
  const list = (peers: string[]): string => peers.length === 0 ? 'none' : [...peers].sort((a, b) => order(a) - order(b)).map(name).join(', ')
  const have = r.verdicts.filter((v): v is NodeVerdict => v !== undefined)
  const key = verdictKey
  const groups = new Map<string, number[]>()
  r.verdicts.forEach((v, i) => {
    const k = v === undefined ? 'none' : key(v)
    groups.set(k, [...(groups.get(k) ?? []), i])
  })
  // the verdict most nodes hold (all of them, in a healthy mesh)
  const [topKey, topNodes] = [...groups.entries()].filter(([k]) => k !== 'none').sort((a, b) => b[1].length - a[1].length)[0] ?? ['none', []]
  const v = topKey === 'none' ? undefined : r.verdicts[topNodes[0]]
  if (v === undefined) {
    line(`RESULT: no verdict: ${r.reason ?? 'no node reached one'}`)
    describeNodes(r, mesh, line)
    return false
  }
  const final = v.final ? '' : ' (not final)'
  line(`RESULT: ${v.verdict.toUpperCase()}${final}  ${ctx.nevra}`)
  if (v.hash !== undefined) line(`  build hash   ${v.hash}`)
  line(`  agreeing     ${list(v.agreeing)}${v.hash !== undefined ? ` (${v.agreeing.length} of a panel of ${ctx.replicas}, threshold ${ctx.quorum} after escalation)` : ''}`)
  line(`  dissenters   ${list(v.dissenters)}`)
  if (v.failedBuilders.length > 0) line(`  failed       ${list(v.failedBuilders)}`)
  if (v.equivocators.length > 0) line(`  equivocators ${list(v.equivocators)}`)
  if ((v.missing ?? []).length > 0) line(`  not heard    ${list(v.missing ?? [])}`)
  line(`  job          ${r.job ?? '?'}`)
  const same = topNodes.length === ctx.n && have.length === ctx.n
  if (same) {
    line(`  consensus    all ${ctx.n} nodes hold this same final verdict`)
  } else {
    line(`  consensus    only ${topNodes.length} of ${ctx.n} nodes hold this verdict${r.reason !== undefined ? ` (${r.reason})` : ''}:`)
    describeNodes(r, mesh, line)
  }
  return same && v.final && v.verdict === 'agreed' && r.complete
}

function describeNodes (r: FollowResult, mesh: DemoMesh, line: (text: string) => void): void {
  mesh.nodes.forEach((node, i) => {
    const v = r.verdicts[i]
    line(`    ${node.name.padEnd(7)} ${alive(node) ? '' : '(exited) '}job ${r.states[i] ?? '-'}, verdict ${v === undefined ? 'none' : `${v.verdict}${v.final ? '' : ' (so far)'}${v.hash !== undefined ? ` ${v.hash.slice(0, 16)}…` : ''}`}`)
  })
}

/** node-3 (…ab12cd34) for a node of the mesh, else the peer ID's tail */
function nameOf (mesh: DemoMesh, peerId: string): string {
  const node = mesh.nodes.find(x => x.peerId === peerId)
  return node !== undefined ? `${node.name} (…${peerId.slice(-8)})` : `…${peerId.slice(-8)}`
}

/** The seeder names builders by their peer IDs' last 8 characters; say which node each is */
function shortenPeers (line: string, mesh: DemoMesh): string {
  return line.replace(/\b[1-9A-HJ-NP-Za-km-z]{8}\b/g, tail => {
    const node = mesh.nodes.find((x: DemoNode) => x.peerId?.endsWith(tail) === true)
    return node !== undefined ? `${node.name}` : tail
  })
}

/** As root a node builds under /var/tmp/skyline-<sha256(data dir)> (src/node/node.ts), where the build user can reach it */
/**
 * The demo's repository is replaced on each run (a new demo key signs a new SRPM); a folder holding
 * anything but a dnf repository of RPMs is never touched.
 */
function clearDemoRepo (repo: string): void {
  if (!existsSync(repo)) return
  const entries = readdirSync(repo)
  const foreign = entries.filter(e => e !== 'repodata' && e !== '.skyline' && e !== 'skyline-demo.repo' && !e.endsWith('.rpm'))
  if (foreign.length > 0) throw new UsageError(`--repo ${repo} holds other files (${foreign.slice(0, 3).join(', ')}): give an empty or new folder`)
  for (const e of entries) rmSync(join(repo, e), { recursive: true, force: true })
}

function repoFile (repo: string): string {
  return `[skyline-demo]\nname=Skyline demo: RPMs agreed by the local mesh\nbaseurl=file://${repo}\nenabled=1\ngpgcheck=0\nmetadata_expire=0\n`
}

/** A path inside the work dir, relative to it (the work dir is printed first) */
function rel (work: string, path: string): string {
  return relative(work, path)
}

function kill (pid: number, sig: NodeJS.Signals): void {
  if (pid === 0 || pid === 1 || pid === -1) return
  try {
    process.kill(pid, sig)
  } catch {}
}

function int (text: string | undefined, flag: string, dflt: number): number {
  if (text === undefined) return dflt
  const num = Number(text)
  if (!Number.isInteger(num) || num < 1) throw new UsageError(`${flag} must be a positive integer (got '${text}')`)
  return num
}
