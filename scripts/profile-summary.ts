/**
 * Sums V8 CPU profiles (.cpuprofile JSON, from `node --cpu-prof` or BENCH_PROFILE_DIR) by where the time went.
 *
 *   npx node scripts/profile-summary.ts [--top 30] [--by function|file|package] [--inclusive PATTERN]
 *                                       [--window-s FROM,TO] FILE...
 *
 * Prints self time (the time a function itself ran) per function, file or package over all FILEs together,
 * largest first, with its share of the non-idle time. `--inclusive PATTERN` prints instead the inclusive
 * time of the frames whose "function file" matches PATTERN (a regular expression): the time spent in them
 * and everything they called, counted once per sample. `--window-s=-30,-2` keeps only the samples from 30 s
 * to 2 s before each profile's end (negative: from its end; positive: from its start), e.g. the idle phase
 * of a profile taken with `node --cpu-prof` from start to end.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

const { values: opts, positionals: files } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' }, by: { type: 'string', default: 'function' }, inclusive: { type: 'string' }, 'window-s': { type: 'string' } }
})

/** The package a script belongs to (node_modules/@scope/name), or the repository-relative path of our own */
function fileOf (url: string): string {
  const path = url.replace(/^file:\/\//, '')
  const nm = path.lastIndexOf('node_modules/')
  if (nm >= 0) return path.slice(nm + 'node_modules/'.length)
  const src = path.search(/\/(src|bench|test)\//)
  return src >= 0 ? path.slice(src + 1) : path === '' ? '(native)' : path
}

function packageOf (url: string): string {
  const file = fileOf(url)
  if (!url.includes('node_modules/')) return file.startsWith('node:') ? 'node' : file.split('/').slice(0, 2).join('/')
  const parts = file.split('/')
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]
}

function keyOf (node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame
  if (opts.by === 'package') return packageOf(url)
  if (opts.by === 'file') return fileOf(url)
  return `${functionName === '' ? '(anonymous)' : functionName} ${fileOf(url)}:${lineNumber + 1}`
}

/** The sampled time span to count, in the profile's clock (µs) */
function windowUs (profile: Profile): [number, number] {
  if (opts['window-s'] === undefined) return [-Infinity, Infinity]
  const [from, to] = opts['window-s'].split(',').map(s => Number(s) * 1e6)
  const at = (t: number): number => t < 0 || Object.is(t, -0) ? profile.endTime + t : profile.startTime + t
  return [at(from), at(to)]
}

const IDLE = new Set(['(idle)'])
/** the profiler's own start and stop (BENCH_PROFILE_DIR's inspector session): not the profiled program's time */
const isProfiler = (node: ProfileNode): boolean => node.callFrame.functionName === 'post' && node.callFrame.url === 'node:inspector'
const totals = new Map<string, number>()
let busyUs = 0
let idleUs = 0
const pattern = opts.inclusive === undefined ? undefined : new RegExp(opts.inclusive)

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const [from, to] = windowUs(profile)
  let at = profile.startTime
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!
    const us = profile.timeDeltas[i] ?? 0
    at += us
    if (at < from || at > to) return
    if (IDLE.has(node.callFrame.functionName) || isProfiler(node)) { idleUs += us; return }
    busyUs += us
    if (pattern === undefined) { totals.set(keyOf(node), (totals.get(keyOf(node)) ?? 0) + us); return }
    const hit = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!
      if (pattern.test(`${frame.callFrame.functionName} ${frame.callFrame.url}`)) hit.add(keyOf(frame))
    }
    for (const k of hit) totals.set(k, (totals.get(k) ?? 0) + us)
  })
}

const rows = [...totals].sort((a, b) => b[1] - a[1]).slice(0, Number(opts.top))
process.stdout.write(`${files.length} profiles: ${(busyUs / 1000).toFixed(0)} ms busy, ${(idleUs / 1000).toFixed(0)} ms idle or profiler\n`)
for (const [key, us] of rows) process.stdout.write(`${(us / 1000).toFixed(1).padStart(9)} ms ${(100 * us / busyUs).toFixed(1).padStart(5)}%  ${key}\n`)
