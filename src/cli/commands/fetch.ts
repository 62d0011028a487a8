/**
 * `skyline fetch --repo DIR --bootstrap MA --announcer F [--all] [--follow] [JOB|NEVRA|ANNOUNCEMENT]...`:
 * joins the mesh as a tally node (it checks announcements and attestations itself, and syncs what it
 * missed), waits for each selected job's final verdict, fetches the RPMs of every agreed one from the
 * agreeing builders, checks each against the signed sha256, and writes them into a dnf repository made
 * with createrepo_c. `--follow` keeps going, updating the repository in place as verdicts arrive.
 * `--koji-cg DIR` writes each agreed job as a `koji import-cg` directory too (services/koji-cg.ts).
 */
import { resolve } from 'node:path'
import { parse } from '../args.ts'
import { UsageError, EXIT_OK, EXIT_REJECTED } from '../errors.ts'
import { startClientNode, waitForTopicPeers } from '../client-node.ts'
import { loadConfig, type SkylineNode } from '../../node/index.ts'
import { defaultConfigFile } from './node.ts'
import { agreedResult, publishResult } from '../../services/results.ts'
import { writeKojiCg } from '../../services/koji-cg.ts'
import { Progress } from '../progress.ts'
import { officialPhrase } from '../../rules/official.ts'

const HELP = `usage: skyline fetch (--repo DIR | --koji-cg DIR)... --bootstrap MA... --announcer F... [--all] [--follow] [--wait SECONDS]
                     [--config F] [--data-dir D] [--listen MA]... [--json] [JOB | NEVRA | ANNOUNCEMENT-ID]...
Fetches the RPMs of agreed verdicts from the agreeing builders, checks every file against the sha256 the
builders signed, and writes them into a dnf repository (createrepo_c) at DIR, updated in place.
  JOB, ANNOUNCEMENT-ID  64 hex characters; NEVRA as announced (with or without .src)
  --all        every job this node learns of (with --follow: as they are agreed)
  --follow     keep running, fetching each new agreed verdict, until SIGINT
  --wait S     how long to wait for the selected verdicts (default 600)
  --koji-cg D  also (or only) write each agreed job into D/N-V-R/: its RPMs and a Koji content-generator
               metadata.json for 'koji import-cg D/N-V-R/metadata.json D/N-V-R' (a job needs a buildroot manifest)
Exit 0 when every selected job was agreed and fetched, 1 when one was not agreed or could not be fetched.`

const HEX64 = /^[0-9a-f]{64}$/

export async function run (argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    repo: { type: 'string' },
    'koji-cg': { type: 'string' },
    bootstrap: { type: 'string', multiple: true },
    announcer: { type: 'string', multiple: true },
    config: { type: 'string' },
    'data-dir': { type: 'string' },
    listen: { type: 'string', multiple: true },
    all: { type: 'boolean' },
    follow: { type: 'boolean' },
    wait: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' }
  }, true)
  if (values.help === true) { process.stdout.write(HELP + '\n'); return EXIT_OK }
  if (values.repo === undefined && values['koji-cg'] === undefined) throw new UsageError('--repo DIR (where the dnf repository goes) or --koji-cg DIR (Koji import directories) is required')
  if (positionals.length === 0 && values.all !== true) throw new UsageError('name the jobs to fetch (JOB, NEVRA or ANNOUNCEMENT-ID), or pass --all')
  const waitS = values.wait === undefined ? 600 : Number(values.wait)
  if (!Number.isFinite(waitS) || waitS < 0) throw new UsageError(`--wait must be a number of seconds (got '${values.wait}')`)
  for (const p of positionals) {
    if (p.length === 0 || p.length > 512 || /[\s/]/.test(p)) throw new UsageError(`not a job, NEVRA or announcement id: ${JSON.stringify(p.slice(0, 80))}`)
  }
  const configFile = values.config ?? defaultConfigFile()
  const fromConfig = configFile !== undefined ? loadConfig({ configFile }) : undefined
  const bootstrap = values.bootstrap ?? fromConfig?.bootstrap.map(String)
  if (bootstrap === undefined || bootstrap.length === 0) throw new UsageError('--bootstrap MA is required (a node of the mesh)')
  const announcers = values.announcer ?? fromConfig?.announcers ?? []
  if (announcers.length === 0) throw new UsageError('no trusted announcer: pass --announcer F (or a config file that lists them)')
  const repo = values.repo === undefined ? undefined : resolve(values.repo)
  const kojiCg = values['koji-cg'] === undefined ? undefined : resolve(values['koji-cg'])
  const json = values.json === true
  const progress = new Progress(process.stderr, { quiet: json })
  const say = (obj: Record<string, unknown>, human: string): void => {
    if (json) process.stdout.write(JSON.stringify(obj) + '\n')
    else process.stdout.write(human + '\n')
  }

  const node = await startClientNode({ name: 'fetch', bootstrap, announcers, dataDir: values['data-dir'], listen: values.listen })
  const stop = new AbortController()
  const onSignal = (): void => stop.abort(new Error('interrupted'))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    progress.status(`joining the mesh as ${node.peerId.slice(-8)}`)
    await waitForTopicPeers(node, 'consensus', 60_000, stop.signal)
    const deadline = Date.now() + waitS * 1000
    const done = new Set<string>()
    let failures = 0
    let fetched = 0

    const handle = async (job: string): Promise<'done' | 'waiting'> => {
      const r = agreedResult(node, job)
      if (!r.ok) {
        if (!r.final) return 'waiting'
        done.add(job)
        failures++
        const nevra = node.store.announcementForJob(job)?.nevra ?? job
        say({ type: 'skipped', job, nevra, verdict: r.verdict, reason: r.reason }, `${nevra}: not fetched: ${r.reason}`)
        return 'done'
      }
      const res = r.result
      done.add(job)
      try {
        const fetchOpts = { signal: stop.signal, onProgress: (p: { file: string, done: number, total: number }) => progress.bar(`${res.nevra}: ${p.file}`, p.done, p.total) }
        const out = repo !== undefined ? await publishResult(node, res, repo, fetchOpts) : undefined
        const cg = kojiCg !== undefined ? await writeKojiCg(node, res, kojiCg, fetchOpts) : undefined
        progress.clear()
        fetched++
        say({ type: 'fetched', job, nevra: res.nevra, hash: res.hash, files: res.files, agreeing: res.agreeing, repo, written: out?.written, kept: out?.kept, kojiCg: cg, ...(res.official !== undefined ? { official: res.official } : {}) },
          `${res.nevra}: agreed ${res.hash.slice(0, 16)} by ${res.agreeing.length} builders${officialPhrase(res)}; ${res.files.map(f => `${f.name} (sha256 ${f.sha256.slice(0, 12)} checked)`).join(', ')} -> ${[repo, cg?.metadata].filter(x => x !== undefined).join(' and ')}`)
      } catch (err: any) {
        progress.clear()
        if (stop.signal.aborted) throw err
        failures++
        say({ type: 'error', job, nevra: res.nevra, error: err.message }, `${res.nevra}: fetch failed: ${err.message}`)
      }
      return 'done'
    }

    // selectors resolve to jobs as announcements arrive (by gossip or sync)
    const resolveSelectors = (): { jobs: string[], unresolved: string[] } => {
      const jobs = new Set<string>()
      const unresolved: string[] = []
      const all = node.store.listAnnouncements()
      if (values.all === true) for (const a of all) jobs.add(a.job)
      for (const sel of positionals) {
        const hits = all.filter(a => (HEX64.test(sel) && (a.job === sel || a.id === sel)) || a.nevra === sel || a.nevra === `${sel}.src` || a.nevra.replace(/\.src$/, '') === sel)
        if (hits.length === 0) unresolved.push(sel)
        for (const h of hits) jobs.add(h.job)
      }
      return { jobs: [...jobs], unresolved }
    }

    let wake: (() => void) | undefined
    const poke = (): void => { wake?.() }
    node.verdicts.addEventListener('verdict', poke)
    node.addEventListener('announcement', poke)
    try {
      while (true) {
        const { jobs, unresolved } = resolveSelectors()
        const open = jobs.filter(j => !done.has(j))
        let waiting = 0
        for (const job of open) if (await handle(job) === 'waiting') waiting++
        const finished = unresolved.length === 0 && waiting === 0 && jobs.length > 0
        if (values.follow !== true && (finished || Date.now() > deadline)) {
          progress.clear()
          if (!finished) {
            for (const sel of unresolved) say({ type: 'error', selector: sel, error: 'no such announcement' }, `${sel}: no announcement found in the mesh`)
            for (const job of jobs.filter(j => !done.has(j))) {
              const r = agreedResult(node, job)
              const nevra = node.store.announcementForJob(job)?.nevra ?? job
              say({ type: 'error', job, nevra, error: `no final verdict after ${waitS} s`, verdict: r.ok ? 'agreed' : r.verdict }, `${nevra}: no final verdict after ${waitS} s (${r.ok ? 'agreed' : r.reason})`)
            }
            failures += unresolved.length + jobs.filter(j => !done.has(j)).length
          }
          break
        }
        progress.status(`waiting for verdicts: ${fetched} fetched, ${waiting} pending${unresolved.length > 0 ? `, ${unresolved.length} not announced yet` : ''}`)
        await new Promise<void>(resolve => {
          wake = resolve
          const t = setTimeout(resolve, 1000)
          stop.signal.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
        })
        if (stop.signal.aborted) break
      }
    } finally {
      node.verdicts.removeEventListener('verdict', poke)
      node.removeEventListener('announcement', poke)
    }
    progress.clear()
    if (!json) process.stderr.write(`${repo !== undefined ? `repository ${repo}` : `Koji import directories in ${kojiCg}`}: ${fetched} job(s) fetched${failures > 0 ? `, ${failures} not` : ''}\n`)
    return failures === 0 && !stop.signal.aborted ? EXIT_OK : EXIT_REJECTED
  } finally {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    await stopQuietly(node)
  }
}

async function stopQuietly (node: SkylineNode): Promise<void> {
  await node.stop().catch(() => {})
}
