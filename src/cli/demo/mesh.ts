/**
 * A local mesh of `skyline node` processes on 127.0.0.1 for the demo: each its own OS process, data dir,
 * config file and log, on any free TCP and HTTP port. Node 0 starts first; the others bootstrap from it.
 * The processes run in their own process groups, so a Ctrl-C in the terminal reaches only the demo, which
 * then stops them with one SIGTERM each (a second signal would make a node exit without its clean stop).
 *
 * @example
 * ```ts
 * const mesh = new DemoMesh({ dir, skyline, builder: 'rpmbuild', keyring, announcer })
 * try {
 *   await mesh.start(6, { signal })
 *   await mesh.waitConnected({ timeoutMs: 20_000, signal })
 * } finally {
 *   await mesh.stop()
 * }
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { NodeStatus } from '../../node/index.ts'

export interface DemoMeshInit {
  /** Where the nodes live: `<dir>/node-<i>/` (data, config.json, node.log) */
  dir: string
  /** The `skyline` executable (bin/skyline) */
  skyline: string
  builder: string
  /** The Fedora keyring: a file or folder */
  keyring: string
  /** A trusted announcer's public key file */
  announcer: string
  env?: NodeJS.ProcessEnv
  /** More settings for every node's config.json (docs/config.md), e.g. `buildrootMirrors` */
  config?: Record<string, unknown>
}

export interface DemoNode {
  index: number
  name: string
  dataDir: string
  logPath: string
  child: ChildProcess
  pid: number
  /** Set once the node printed them */
  peerId?: string
  /** Its 127.0.0.1 listen address, with /p2p/<peer id> */
  address?: string
  /** `http://127.0.0.1:PORT` */
  httpUrl?: string
  exited: Promise<void>
  exitCode?: number | null
  exitSignal?: NodeJS.Signals | null
  /** Set when the process could not be spawned */
  spawnError?: Error
}

export class DemoMeshError extends Error {
  static name = 'DemoMeshError'
  override name = 'DemoMeshError'
}

/** How long a node may take to print its addresses */
const START_TIMEOUT_MS = 60_000
/** How long a node may take to stop after SIGTERM before it is killed */
const STOP_GRACE_MS = 10_000

export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) throw abortError(signal)
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(abortError(signal!)) }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

function abortError (signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('interrupted')
}

export function alive (node: DemoNode): boolean {
  return node.exitCode === undefined && node.exitSignal === undefined
}

export class DemoMesh {
  readonly nodes: DemoNode[] = []
  private readonly init: DemoMeshInit

  constructor (init: DemoMeshInit) {
    this.init = init
  }

  /** Starts n nodes and waits until each printed its peer ID, listen address and status URL */
  async start (n: number, opts: { signal?: AbortSignal, onStarted?: (node: DemoNode) => void } = {}): Promise<void> {
    const first = this.spawnNode(0, undefined)
    await this.waitStarted(first, opts.signal)
    opts.onStarted?.(first)
    const rest = Array.from({ length: n - 1 }, (_, i) => this.spawnNode(i + 1, first.address))
    await Promise.all(rest.map(async node => {
      await this.waitStarted(node, opts.signal)
      opts.onStarted?.(node)
    }))
  }

  private spawnNode (index: number, bootstrap: string | undefined): DemoNode {
    const dataDir = join(this.init.dir, `node-${index}`)
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    const configFile = join(dataDir, 'config.json')
    // libp2p refuses more than 5 inbound connections a second from one host; a mesh on one host needs more
    writeFileSync(configFile, JSON.stringify({ comment: `written by skyline demo: node ${index} of a local mesh`, inboundConnectionThreshold: 1000, ...this.init.config }, null, 2) + '\n')
    const args = [
      'node', '--config', configFile, '--data-dir', dataDir,
      '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0',
      '--builder', this.init.builder, '--keyring', this.init.keyring, '--announcer', this.init.announcer,
      ...(bootstrap !== undefined ? ['--bootstrap', bootstrap] : [])
    ]
    const logPath = join(dataDir, 'node.log')
    const log = openSync(logPath, 'w')
    let child: ChildProcess
    try {
      // its own process group: Ctrl-C reaches the demo only, and a straggler's build processes can be killed with it
      child = spawn(this.init.skyline, args, { stdio: ['ignore', log, log], detached: true, env: this.init.env })
    } finally {
      closeSync(log)
    }
    const node: DemoNode = {
      index,
      name: `node-${index}`,
      dataDir,
      logPath,
      child,
      pid: child.pid ?? -1,
      exited: new Promise<void>(resolve => {
        child.once('exit', (code, signal) => {
          node.exitCode = code
          node.exitSignal = signal
          resolve()
        })
        child.once('error', err => {
          node.exitCode = null
          node.exitSignal = null
          node.spawnError = err
          resolve()
        })
      })
    }
    this.nodes.push(node)
    return node
  }

  private async waitStarted (node: DemoNode, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS
    for (;;) {
      const log = this.log(node)
      node.peerId ??= /^skyline node (\S+)/m.exec(log)?.[1]
      node.httpUrl ??= /status at (http:\/\/\S+)\/status/.exec(log)?.[1]
      const listen = /listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+\S*)/.exec(log)?.[1]
      if (node.address === undefined && listen !== undefined && node.peerId !== undefined) {
        node.address = listen.includes('/p2p/') ? listen : `${listen}/p2p/${node.peerId}`
      }
      if (node.peerId !== undefined && node.httpUrl !== undefined && node.address !== undefined) return
      if (!alive(node)) {
        throw new DemoMeshError(`${node.name} exited during start (${node.spawnError?.message ?? `code ${node.exitCode ?? node.exitSignal}`}); last lines of ${node.logPath}:\n${lastLines(log, 8)}`)
      }
      if (Date.now() > deadline) throw new DemoMeshError(`${node.name} did not start in ${START_TIMEOUT_MS / 1000} s; see ${node.logPath}`)
      await sleep(100, signal)
    }
  }

  /** The node's output so far */
  log (node: DemoNode): string {
    try {
      return readFileSync(node.logPath, 'utf8')
    } catch {
      return ''
    }
  }

  /** GET /status of a node; undefined when it does not answer */
  async status (node: DemoNode, signal?: AbortSignal): Promise<NodeStatus | undefined> {
    if (node.httpUrl === undefined || !alive(node)) return undefined
    try {
      const res = await fetch(`${node.httpUrl}/status`, { signal: signal !== undefined ? AbortSignal.any([signal, AbortSignal.timeout(3_000)]) : AbortSignal.timeout(3_000) })
      if (!res.ok) return undefined
      return await res.json() as NodeStatus
    } catch {
      return undefined
    }
  }

  /** Every node's status, in node order */
  async statuses (signal?: AbortSignal): Promise<Array<NodeStatus | undefined>> {
    return Promise.all(this.nodes.map(async n => this.status(n, signal)))
  }

  /**
   * Waits until every node is connected to all the others (or, after `timeoutMs`, settles for every node
   * having a peer and a non-empty DHT routing table). Reports each change of the peer counts.
   */
  async waitConnected (opts: { timeoutMs: number, signal?: AbortSignal, onProgress?: (peers: number[]) => void }): Promise<{ full: boolean, peers: number[] }> {
    const want = this.nodes.length - 1
    const deadline = Date.now() + opts.timeoutMs
    let last = ''
    for (;;) {
      const statuses = await this.statuses(opts.signal)
      const dead = this.nodes.find(n => !alive(n))
      if (dead !== undefined) throw new DemoMeshError(`${dead.name} exited (code ${dead.exitCode ?? dead.exitSignal}); last lines of ${dead.logPath}:\n${lastLines(this.log(dead), 8)}`)
      const peers = statuses.map(s => s?.connectedPeers ?? -1)
      const key = peers.join(',')
      if (key !== last) { opts.onProgress?.(peers); last = key }
      if (peers.every(p => p >= want)) return { full: true, peers }
      if (Date.now() > deadline) {
        const usable = want === 0 || statuses.every(s => s !== undefined && s.connectedPeers >= 1 && s.dht.routingTableSize >= 1)
        if (usable) return { full: false, peers }
        throw new DemoMeshError(`the mesh did not connect in ${Math.round(opts.timeoutMs / 1000)} s (connected peers per node: ${peers.map(p => p < 0 ? '?' : p).join(' ')})`)
      }
      await sleep(250, opts.signal)
    }
  }

  /**
   * Stops every running node: SIGTERM, then up to STOP_GRACE_MS for a clean stop, then SIGKILL to the
   * stragglers' process groups (their builds included). Safe to call twice. Returns the stragglers' names.
   */
  async stop (graceMs: number = STOP_GRACE_MS): Promise<string[]> {
    const running = this.nodes.filter(alive)
    for (const n of running) signal(n.pid, 'SIGTERM')
    await Promise.race([Promise.all(running.map(async n => n.exited)), sleep(graceMs)])
    const stragglers = running.filter(alive)
    for (const n of stragglers) {
      signal(-n.pid, 'SIGKILL')
      signal(n.pid, 'SIGKILL')
    }
    await Promise.race([Promise.all(stragglers.map(async n => n.exited)), sleep(5_000)])
    return stragglers.map(n => n.name)
  }

  /** Lets the demo exit while the nodes keep running (`--keep`) */
  detach (): void {
    for (const n of this.nodes) n.child.unref()
  }
}

function signal (pid: number, sig: NodeJS.Signals): void {
  if (pid === -1 || pid === 1 || pid === 0) return
  try {
    process.kill(pid, sig)
  } catch {}
}

export function lastLines (text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).map(l => `    ${l}`).join('\n')
}
