/**
 * Runs `skyline seed` as its own process for the demo and streams its output line by line, noting the job
 * it announced (`announced NEVRA: job <16 hex>, ...`).
 *
 * @example
 * ```ts
 * const seed = startSeed({ skyline, args: ['--key', key, ...], onLine: l => say(`seed: ${l}`) })
 * try { await seed.exited } finally { await seed.stop() }
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { sleep } from './mesh.ts'

/**
 * A rules-v2 panel for a mesh of n builders (n >= 2): P + E = min(5, n) seats, P = the larger half, T = P + 1
 * (then T > P, T <= P + E and 2T > P + E); `replicas` is P, the builders of stage 1
 */
export function replicasFor (n: number): { replicas: number, quorum: number, escalation: number } {
  const seats = Math.max(2, Math.min(5, n))
  const escalation = Math.floor(seats / 2)
  const replicas = seats - escalation
  return { replicas, quorum: replicas + 1, escalation }
}

export interface SeedProcess {
  child: ChildProcess
  /** The announced job's ID prefix, once printed */
  jobPrefix: string | undefined
  /** Resolves with the exit code (null when killed) */
  exited: Promise<number | null>
  running: () => boolean
  /** SIGTERM, a grace period, then SIGKILL. Safe to call twice. */
  stop: (graceMs?: number) => Promise<void>
}

/** Runs `skyline seed ARGS` (or another subcommand: `command`, e.g. 'fetch') with its output streamed by line */
export function startSeed (init: { skyline: string, args: string[], env?: NodeJS.ProcessEnv, command?: string, onLine: (line: string, stream: 'stdout' | 'stderr') => void }): SeedProcess {
  const child = spawn(init.skyline, [init.command ?? 'seed', ...init.args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: init.env })
  let done = false
  const seed: SeedProcess = {
    child,
    jobPrefix: undefined,
    exited: new Promise(resolve => {
      child.once('close', code => { done = true; resolve(code) })
      child.once('error', () => { done = true; resolve(null) })
    }),
    running: () => !done,
    stop: async (graceMs = 5_000) => {
      if (done || child.pid === undefined) return
      try { process.kill(child.pid, 'SIGTERM') } catch {}
      await Promise.race([seed.exited, sleep(graceMs)])
      if (done) return
      try { process.kill(-child.pid, 'SIGKILL') } catch {}
      await Promise.race([seed.exited, sleep(2_000)])
    }
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    let buffer = ''
    child[stream]?.setEncoding('utf8')
    child[stream]?.on('data', (d: string) => {
      buffer += d
      let nl
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        const m = /^announced .*: job ([0-9a-f]{8,64})/.exec(line)
        if (m !== null) seed.jobPrefix ??= m[1]
        init.onLine(line, stream)
      }
    })
    child[stream]?.on('end', () => { if (buffer !== '') init.onLine(buffer, stream) })
  }
  return seed
}
