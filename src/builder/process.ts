/**
 * Runs one build command in its own process group with the limits of a build: a wall-clock timeout, the
 * caller's abort signal, a cap on the disk its work directory uses, and a bounded log (head and tail).
 * On any of them the whole group gets SIGTERM, then SIGKILL after a grace period.
 */
import { spawn } from 'node:child_process'
import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { DISK_CHECK_INTERVAL_MS, KILL_GRACE_MS, LOG_HEAD_SHARE } from './constants.ts'
import type { Logger } from '@libp2p/interface'

/** A log that keeps at most `max` bytes: the first ones and the last ones */
export class BoundedLog {
  private readonly headMax: number
  private readonly tailMax: number
  private readonly head: Buffer[] = []
  private headBytes = 0
  private tail: Buffer[] = []
  private tailBytes = 0
  /** Bytes received in all */
  total = 0

  constructor (max: number) {
    this.headMax = Math.floor(max * LOG_HEAD_SHARE)
    this.tailMax = max - this.headMax
  }

  append (chunk: Buffer): void {
    this.total += chunk.length
    if (this.headBytes < this.headMax) {
      const take = Math.min(this.headMax - this.headBytes, chunk.length)
      this.head.push(chunk.subarray(0, take))
      this.headBytes += take
      chunk = chunk.subarray(take)
      if (chunk.length === 0) return
    }
    this.tail.push(chunk)
    this.tailBytes += chunk.length
    while (this.tailBytes > this.tailMax && this.tail.length > 0) {
      const excess = this.tailBytes - this.tailMax
      const first = this.tail[0]
      if (first.length <= excess) {
        this.tail.shift()
        this.tailBytes -= first.length
      } else {
        this.tail[0] = first.subarray(excess)
        this.tailBytes -= excess
      }
    }
  }

  /** Bytes dropped from the middle */
  get dropped (): number {
    return this.total - this.headBytes - this.tailBytes
  }

  /** The kept log, with a marker where bytes were dropped */
  text (): string {
    const head = Buffer.concat(this.head).toString('utf8')
    const tail = Buffer.concat(this.tail).toString('utf8')
    return this.dropped > 0 ? `${head}\n[... ${this.dropped} bytes of log dropped ...]\n${tail}` : head + tail
  }

  /** The last `bytes` bytes of the log (starting at a line boundary when there is one) */
  excerpt (bytes: number): string {
    const all = Buffer.concat([...(this.dropped > 0 ? [] : this.head), ...this.tail])
    if (all.length <= bytes) return all.toString('utf8')
    const cut = all.subarray(all.length - bytes)
    const nl = cut.indexOf(0x0a)
    return (nl >= 0 && nl < cut.length - 1 ? cut.subarray(nl + 1) : cut).toString('utf8')
  }
}

export interface RunLimitedOptions {
  command: string
  args: readonly string[]
  /** The whole environment of the command: nothing is inherited */
  env: Record<string, string>
  cwd?: string
  signal?: AbortSignal
  timeoutMs: number
  maxLogBytes: number
  /** Directory whose disk use is polled; with `maxDiskBytes` */
  diskDir?: string
  maxDiskBytes?: number
  diskCheckIntervalMs?: number
  killGraceMs?: number
  /** An open file the command gets as fd 3 (the SRPM, which bwrap copies into the sandbox) */
  inputFd?: number
  /**
   * Reads what the command writes to fd 4 (its outputs); it gets the stream as it comes. When it rejects,
   * the process group is killed (reason 'output') and the error is the result's `receiveError`.
   */
  receive?: (stream: AsyncIterable<Buffer>) => Promise<unknown>
  /** Called with each complete line of output (stdout and stderr merged) */
  onLine?: (line: string) => void
  log?: Logger
}

export type KillReason = 'timeout' | 'aborted' | 'disk' | 'output'

export interface RunLimitedResult {
  exitCode: number | null
  signal: NodeJS.Signals | null
  /** Why the process group was killed, if it was */
  killed?: KillReason
  /** Disk use measured when `killed` is 'disk' */
  diskBytes?: number
  output: BoundedLog
  /** What `receive` resolved to */
  received?: unknown
  /** Why `receive` rejected */
  receiveError?: Error
  durationMs: number
}

const MAX_LINE = 64 * 1024
const LEFTOVER_GRACE_MS = 2_000

/** Disk used by a directory tree (allocated blocks), best effort: files vanishing meanwhile are skipped */
export async function diskUsage (dir: string): Promise<number> {
  let total = 0
  const stack = [dir]
  while (stack.length > 0) {
    const d = stack.pop() as string
    let entries
    try {
      entries = await readdir(d, { withFileTypes: true })
    } catch {
      continue
    }
    for (const e of entries) {
      const p = join(d, e.name)
      try {
        const st = await lstat(p)
        total += st.blocks * 512
        if (e.isDirectory()) stack.push(p)
      } catch {}
    }
  }
  return total
}

/** Runs the command to its end or until a limit kills it; never rejects for the command's own failure */
export async function runLimited (opts: RunLimitedOptions): Promise<RunLimitedResult> {
  const started = performance.now()
  const output = new BoundedLog(opts.maxLogBytes)
  if (opts.signal?.aborted === true) {
    return { exitCode: null, signal: null, killed: 'aborted', output, durationMs: 0 }
  }
  const child = spawn(opts.command, opts.args, {
    env: opts.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe', opts.inputFd ?? 'ignore', opts.receive !== undefined ? 'pipe' : 'ignore'],
    detached: true // its own process group, so a kill reaches every process of the build
  })
  const pid = child.pid
  let killed: KillReason | undefined
  let diskBytes: number | undefined
  let graceTimer: NodeJS.Timeout | undefined

  let partial = ''
  const onData = (chunk: Buffer): void => {
    output.append(chunk)
    if (opts.onLine == null) return
    partial += chunk.toString('utf8')
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    if (partial.length > MAX_LINE) partial = ''
    for (const line of lines) opts.onLine(line)
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)

  const killGroup = (reason: KillReason): void => {
    if (killed !== undefined || pid === undefined) return
    killed = reason
    opts.log?.('killing build process group %d: %s', pid, reason)
    signalGroup(pid, 'SIGTERM')
    graceTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), opts.killGraceMs ?? KILL_GRACE_MS)
  }

  let received: unknown
  let receiveError: Error | undefined
  const receiving = opts.receive === undefined
    ? Promise.resolve()
    : opts.receive(child.stdio[4] as NodeJS.ReadableStream as AsyncIterable<Buffer>).then(r => { received = r }, (err: Error) => {
        receiveError = err
        child.stdio[4]?.destroy()
        killGroup('output')
      })

  const timeout = setTimeout(() => killGroup('timeout'), opts.timeoutMs)
  const onAbort = (): void => killGroup('aborted')
  opts.signal?.addEventListener('abort', onAbort, { once: true })

  let diskTimer: NodeJS.Timeout | undefined
  let checking = false
  if (opts.diskDir !== undefined && opts.maxDiskBytes !== undefined) {
    const dir = opts.diskDir
    const max = opts.maxDiskBytes
    diskTimer = setInterval(() => {
      if (checking) return
      checking = true
      diskUsage(dir).then(used => {
        if (used > max && killed === undefined) {
          diskBytes = used
          killGroup('disk')
        }
      }, () => {}).finally(() => { checking = false })
    }, opts.diskCheckIntervalMs ?? DISK_CHECK_INTERVAL_MS)
  }

  try {
    const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (code, sig) => resolve([code, sig]))
      // the command is gone but something it left behind holds the output open: end the group
      child.once('exit', () => { graceTimer ??= setTimeout(() => signalGroup(pid as number, 'SIGKILL'), LEFTOVER_GRACE_MS) })
    })
    if (partial.length > 0) opts.onLine?.(partial)
    await receiving
    return { exitCode, signal, killed, diskBytes, output, received, receiveError, durationMs: performance.now() - started }
  } finally {
    clearTimeout(timeout)
    clearInterval(diskTimer)
    clearTimeout(graceTimer)
    opts.signal?.removeEventListener('abort', onAbort)
    // whatever is left of the group (a daemonised helper) goes too
    if (pid !== undefined) signalGroup(pid, 'SIGKILL')
  }
}

function signalGroup (pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig)
  } catch {}
}
