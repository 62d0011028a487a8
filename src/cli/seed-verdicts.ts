/**
 * What `skyline seed` does after announcing when it follows the verdicts (`--verdicts`, or `--repo`):
 * waits for each job's final verdict (the seeder tallies like any node); announces a rules-v2 job that
 * ended `blocked` again with a fresh beacon (a new job key, so a new ranking and panel) that names the
 * blocked job and its attempt (Announcement fields 24 and 25), at most MAX_ATTEMPTS − 1 times; with a
 * repository, fetches every agreed job's RPMs into it. docs/protocols/announce.md, "Re-announcement".
 */
import { MAX_ATTEMPTS } from '../protocols/announce.ts'
import type { SkylineNode } from '../node/index.ts'
import { agreedResult, publishResult } from '../services/results.ts'
import { Progress } from './progress.ts'

/** A job this seeder announced */
export interface SeededJob {
  job: string
  nevra: string
  /** 1 for the first announcement, 2..MAX_ATTEMPTS for a retry */
  attempt: number
  /** rules v2 (only v2 jobs can end blocked and be retried) */
  v2: boolean
}

export interface FollowOptions {
  node: SkylineNode
  /** a dnf repository to fetch agreed RPMs into; without it agreed jobs are only reported */
  repo?: string
  deadline: number
  signal: AbortSignal
  /** announces a blocked job's SRPM again (fresh beacon, the retry link); undefined when it could not */
  reannounce: (blocked: SeededJob) => Promise<SeededJob | undefined>
  out?: NodeJS.WritableStream
}

/** @default 500 ms between looks at the verdicts */
const POLL_MS = 500

/**
 * Follows the jobs to their final verdicts, re-announcing blocked ones; true when every SRPM ended
 * agreed (and, with a repository, was fetched).
 */
export async function followVerdicts (jobs: SeededJob[], opts: FollowOptions): Promise<boolean> {
  const out = opts.out ?? process.stdout
  const progress = new Progress(process.stderr)
  const open = new Map(jobs.map(j => [j.job, j]))
  let ok = true
  while (open.size > 0 && Date.now() < opts.deadline && !opts.signal.aborted) {
    for (const [id, job] of open) {
      const r = agreedResult(opts.node, id)
      if (!r.ok && !r.final) continue
      open.delete(id)
      progress.clear()
      if (!r.ok && r.verdict === 'blocked' && job.v2 && job.attempt < MAX_ATTEMPTS) {
        const next = await retry(job, opts, out)
        if (next !== undefined) open.set(next.job, next)
        else ok = false
        continue
      }
      if (!r.ok) {
        out.write(`${job.nevra}: ${r.verdict}${job.attempt > 1 ? ` (attempt ${job.attempt} of ${MAX_ATTEMPTS})` : ''}: not fetched (${r.reason})\n`)
        ok = false
        continue
      }
      if (opts.repo === undefined) {
        out.write(`${job.nevra}: agreed ${r.result.hash.slice(0, 16)} by ${r.result.agreeing.length} builders${job.attempt > 1 ? ` (attempt ${job.attempt})` : ''}\n`)
        continue
      }
      if (!await fetchInto(opts.repo, r.result, job, opts, progress, out)) ok = false
    }
    if (open.size > 0) {
      progress.status(`waiting for verdicts: ${open.size} open`)
      await new Promise(resolve => setTimeout(resolve, POLL_MS))
    }
  }
  progress.clear()
  for (const job of open.values()) {
    out.write(`${job.nevra}: no final verdict ${opts.signal.aborted ? '(interrupted)' : 'in time'}\n`)
    ok = false
  }
  return ok
}

/** A blocked job announced again; undefined (reported) when the seeder could not */
async function retry (job: SeededJob, opts: FollowOptions, out: NodeJS.WritableStream): Promise<SeededJob | undefined> {
  out.write(`${job.nevra}: blocked (attempt ${job.attempt} of ${MAX_ATTEMPTS}): announcing it again with a fresh beacon\n`)
  try {
    const next = await opts.reannounce(job)
    if (next === undefined) out.write(`${job.nevra}: not announced again: too few builders for the panel\n`)
    else out.write(`${job.nevra}: attempt ${next.attempt} is job ${next.job.slice(0, 16)} (retries ${job.job.slice(0, 16)})\n`)
    return next
  } catch (err: any) {
    opts.signal.throwIfAborted()
    out.write(`${job.nevra}: not announced again: ${err.message}\n`)
    return undefined
  }
}

async function fetchInto (repo: string, result: Extract<ReturnType<typeof agreedResult>, { ok: true }>['result'], job: SeededJob, opts: FollowOptions, progress: Progress, out: NodeJS.WritableStream): Promise<boolean> {
  try {
    await publishResult(opts.node, result, repo, { signal: opts.signal, onProgress: p => progress.bar(`${job.nevra}: ${p.file}`, p.done, p.total) })
    progress.clear()
    out.write(`${job.nevra}: agreed ${result.hash.slice(0, 16)}; ${result.files.length} RPM(s) checked and written to ${repo}\n`)
    return true
  } catch (err: any) {
    progress.clear()
    out.write(`${job.nevra}: fetch failed: ${err.message}\n`)
    return false
  }
}
