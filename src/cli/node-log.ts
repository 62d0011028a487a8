/**
 * The service log of `skyline node`: one line per event an operator cares about (a job assigned to
 * this node, its state changes, verdicts, alerts, halt and resume, a metered-link pause), nothing per gossip message. Text for
 * a terminal, or JSON lines (`--log-format json`: `ts`, `level`, `event` and the event's fields) for
 * journald and log shippers. Debug tracing of the libp2p stack stays behind `DEBUG=skyline*,libp2p*`.
 */
import type { SkylineNode } from '../node/index.ts'

export type LogFormat = 'text' | 'json'
type Level = 'info' | 'warn' | 'error'

export interface ServiceLog {
  log: (level: Level, event: string, message: string, fields?: Record<string, unknown>) => void
  detach: () => void
}

/** Subscribes to a started node's events and writes them to `out` */
export function attachServiceLog (node: SkylineNode, format: LogFormat, out: { write: (s: string) => unknown } = process.stdout): ServiceLog {
  const log = (level: Level, event: string, message: string, fields: Record<string, unknown> = {}): void => {
    if (format === 'json') out.write(JSON.stringify({ ts: new Date().toISOString(), level, event, msg: message, ...fields }) + '\n')
    else out.write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}\n`)
  }
  const short = (id: string): string => id.slice(0, 12)
  const off: Array<() => void> = []
  const on = <T>(target: EventTarget, type: string, fn: (detail: T) => void): void => {
    const h = (e: Event): void => fn((e as CustomEvent<T>).detail)
    target.addEventListener(type, h)
    off.push(() => target.removeEventListener(type, h))
  }
  on<{ job: string, nevra: string, builders: string[], mine: boolean }>(node.jobs, 'assignment', a => {
    if (a.mine) log('info', 'assigned', `job ${short(a.job)} ${a.nevra}: assigned to this node (builders ${a.builders.map(b => b.slice(-8)).join(' ')})`, { job: a.job, nevra: a.nevra, builders: a.builders })
  })
  on<{ job: string, nevra: string, state: string, error?: string }>(node.jobs, 'job', j => {
    const bad = j.state === 'failed' || j.state === 'refused'
    log(bad ? 'warn' : 'info', 'job', `job ${short(j.job)} ${j.nevra}: ${j.state}${j.error !== undefined ? ` (${j.error})` : ''}`, { job: j.job, nevra: j.nevra, state: j.state, ...(j.error !== undefined ? { error: j.error } : {}) })
  })
  on<{ job: string, nevra: string, verdict: string, final: boolean, hash?: string, agreeing: string[], dissenters: string[] }>(node.verdicts, 'verdict', v => {
    if (!v.final) return
    log(v.verdict === 'agreed' ? 'info' : 'warn', 'verdict', `job ${short(v.job)} ${v.nevra}: ${v.verdict}${v.hash !== undefined ? ` ${v.hash.slice(0, 16)}` : ''}, ${v.agreeing.length} agreeing${v.dissenters.length > 0 ? `, dissenters ${v.dissenters.map(d => d.slice(-8)).join(' ')}` : ''}`,
      { job: v.job, nevra: v.nevra, verdict: v.verdict, hash: v.hash ?? null, agreeing: v.agreeing, dissenters: v.dissenters })
  })
  on<{ kind: string, message: string }>(node.verdicts, 'alert', a => log('error', 'alert', `ALERT ${a.kind}: ${a.message}`, { kind: a.kind }))
  on<{ builder: string, job: string }>(node.verdicts, 'equivocation', e => log('warn', 'equivocation', `builder ${e.builder} banned: two claims for job ${short(e.job)}`, { builder: e.builder, job: e.job }))
  on<{ paused: boolean }>(node.libp2p.services.blobs, 'transfer', t => log(t.paused ? 'warn' : 'info', 'transfer', t.paused
    ? 'blob transfer PAUSED: the link is metered (docs/config.md, metered): no uploads, fetches wait, no new jobs'
    : 'blob transfer resumed', { paused: t.paused }))
  on<{ action: string, reason: string, announcer: string }>(node, 'control', c => log('warn', 'control', `${c.action.toUpperCase()} by announcer ${c.announcer.slice(0, 16)}: ${c.reason}`, { action: c.action, reason: c.reason }))
  return { log, detach: () => { for (const f of off) f() } }
}
