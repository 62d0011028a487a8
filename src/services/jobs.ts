/**
 * The build pipeline of a node: for every valid announcement, decide whether this node is among the r
 * assigned builders; if so, queue the job durably, fetch the SRPM through the blob protocol (verified
 * chunk by chunk and whole), verify its RPM signature against the Fedora keyring (never trusting
 * rpmbuild's own warning), build it in the sandbox, and record the build. A job caught mid-way by a
 * crash or kill -9 is redone on restart, or reported failed after too many attempts.
 */
import { copyFileSync, linkSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TypedEventEmitter, type PeerId, type Logger } from '@libp2p/interface'
import type { SkylineLibp2p } from './components.ts'
import type { Store, JobState, BuildRecord } from '../store/store.ts'
import { announcementSeating, buildrootRef, type CheckedAnnouncement } from '../protocols/announce.ts'
import { BuildrootUnavailableError, type Builder, type BuildPhase, type BuildResult, type BuildrootInput } from '../builder/index.ts'
import { parseManifest } from '../rules/buildroot.ts'
import type { OfficialClaim } from '../rules/official.ts'
import { compareWithOfficial } from '../rpm/official.ts'
import type { PackageCache } from './buildroot/package-cache.ts'
import type { Keyring } from '../rpm/index.ts'
import type { AnnouncementService } from './announcements.ts'
import { makeJobDir } from '../builder/workdir.ts'
import { fetchDeadline, type FetchOptions } from './blob/index.ts'

/** @default 3 attempts before an interrupted job is reported failed */
export const MAX_JOB_ATTEMPTS = 3

export interface JobEvent {
  job: string
  nevra: string
  state: JobState
  error?: string
}

export interface AssignmentEvent {
  job: string
  nevra: string
  builders: string[]
  mine: boolean
}

export interface JobRunnerEvents {
  /** the assigned builders of a job, as this node computed them */
  assignment: CustomEvent<AssignmentEvent>
  /** a job of this node changed state */
  job: CustomEvent<JobEvent>
  /**
   * progress of this node's job: the SRPM fetch ('fetch', with bytes done of total), then each build
   * phase as it begins (setup, start of rpmbuild, %prep..., hash, done)
   */
  progress: CustomEvent<JobProgress>
  /** a build of this node finished (ok or failed) */
  built: CustomEvent<{ record: BuildRecord, announcement: CheckedAnnouncement }>
}

export interface JobProgress {
  job: string
  phase: BuildPhase | 'fetch'
  /** performance.now() */
  at: number
  done?: number
  total?: number
}

export interface JobRunnerInit {
  libp2p: SkylineLibp2p
  store: Store
  builder: Builder | undefined
  keyring: Keyring | undefined
  workDir: string
  log: Logger
  /** @default the builder's maxConcurrentBuilds */
  concurrency?: number
  /** whether new jobs may be taken now (throttle and halt) */
  accepting?: () => boolean
  /** the checked announcements (one cache for the node) */
  announcements: Pick<AnnouncementService, 'get'>
  /** where the packages of a job's buildroot come from; without it, jobs with a buildroot are declined */
  packages?: Pick<PackageCache, 'obtain'>
  /**
   * a job's seats and probation seats, banned builders left out, as this node's log judges eligibility
   * (VerdictService.seating); @default every candidate eligible (announcementSeating)
   */
  seating?: (a: CheckedAnnouncement) => { seats: PeerId[], probation: PeerId[] }
}

export class JobRunner extends TypedEventEmitter<JobRunnerEvents> {
  private readonly init: JobRunnerInit
  private readonly running = new Map<string, AbortController>()
  private readonly controller = new AbortController()
  private stopped = false

  constructor (init: JobRunnerInit) {
    super()
    this.init = init
  }

  get concurrency (): number {
    return this.init.concurrency ?? this.init.builder?.limits.maxConcurrentBuilds ?? 1
  }

  /**
   * Jobs a crash or kill left in `fetching` or `building`: queued again, or after MAX_JOB_ATTEMPTS
   * recorded as failed builds (which the consensus service attests at its start). Call before start().
   */
  recover (): void {
    const { requeued, failed } = this.init.store.recoverJobs(MAX_JOB_ATTEMPTS)
    for (const j of requeued) this.init.log('job %s was interrupted; queued again', j)
    for (const j of failed) {
      this.init.log('job %s was interrupted %d times; reported failed', j, MAX_JOB_ATTEMPTS)
      this.reportInterrupted(j)
    }
  }

  start (): void {
    this.pump()
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.controller.abort(new Error('node stopping'))
    for (const c of this.running.values()) c.abort(new Error('node stopping'))
    // builds are killed by their abort signal; wait for their promises to settle
    const deadline = Date.now() + 10_000
    while (this.running.size > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  }

  /**
   * Called for every valid announcement, and again when a job's seats change (a ban, a v2 escalation):
   * work out the builders; queue the job if this node is one
   */
  async onAnnouncement (a: CheckedAnnouncement): Promise<PeerId[]> {
    // a node that cannot build has nothing to decide (the tally works out builders on its own)
    if (this.init.builder === undefined) return []
    // the seats by the announcement's rules (builders banned for equivocation give their seat to the
    // next): no network, the same answer on every node. Rules v2: stage 1's P seats and the probation
    // seats build, the E escalation seats only once this node's tally escalated the job
    const { seats, probation } = this.init.seating?.(a) ?? announcementSeating(a, this.init.store.bannedSet())
    const escalated = a.panel !== undefined && this.escalated(a.job)
    const builders = [...(a.panel !== undefined && !escalated ? seats.slice(0, a.panel.panel) : seats), ...probation]
    const mine = builders.some(p => p.equals(this.init.libp2p.peerId))
    this.safeDispatchEvent('assignment', { detail: { job: a.job, nevra: a.announcement.nevra, builders: builders.map(String), mine } })
    if (mine && !this.stopped) {
      if (this.init.accepting?.() === false) {
        this.init.log('not taking job %s (%s): the mesh is throttled or halted, or the link is metered', a.job, a.announcement.nevra)
      } else if (this.init.store.addJob(a.job, a.id)) {
        this.emitJob(a.job, 'queued')
        this.pump()
      }
    }
    return builders
  }

  /** Whether this node's tally of a rules-v2 job called the escalation seats */
  private escalated (job: string): boolean {
    const detail = this.init.store.verdict(job)?.detail
    try {
      return detail !== undefined && JSON.parse(detail).escalated === true
    } catch {
      return false
    }
  }

  /** Starts queued jobs again after a halt is lifted */
  resume (): void {
    this.pump()
  }

  private pump (): void {
    if (this.stopped || this.init.accepting?.() === false) return
    for (const job of this.init.store.jobs(['queued'])) {
      if (this.running.size >= this.concurrency) return
      if (this.running.has(job.job)) continue
      const controller = new AbortController()
      this.running.set(job.job, controller)
      this.run(job.job, controller.signal)
        .catch(err => { this.init.log.error('job %s: %e', job.job, err) })
        .finally(() => {
          this.running.delete(job.job)
          this.pump()
        })
    }
  }

  private async run (job: string, signal: AbortSignal): Promise<void> {
    const a = this.init.announcements.get(job)
    if (a === undefined || Number(a.announcement.expiresAt) <= Date.now()) {
      this.setState(job, '?', 'failed', 'its announcement is missing or has expired')
      return
    }
    const nevra = a.announcement.nevra
    const builder = this.init.builder
    if (builder === undefined) {
      this.setState(job, nevra, 'failed', 'this node has no builder')
      return
    }
    const dir = join(this.init.workDir, job)
    let buildroot: { input: BuildrootInput, release: () => void } | undefined
    try {
      this.setState(job, nevra, 'fetching')
      const srpm = await this.fetchSrpm(job, a, signal)

      const refusal = await this.refusal(srpm, nevra, signal)
      if (refusal !== undefined) {
        this.setState(job, nevra, 'refused', refusal)
        return
      }

      buildroot = await this.buildroot(a, signal)
      this.setState(job, nevra, 'building')
      // the builder wants an empty work dir and an SRPM by its file name: link the verified blob beside it,
      // in a fresh 0700 directory of the node (what a previous run left is removed without following links)
      makeJobDir(this.init.workDir, job)
      const named = join(dir, `${nevra}.rpm`)
      try { linkSync(srpm, named) } catch { copyFileSync(srpm, named) }
      const result = await builder.build(named, {
        signal,
        workDir: join(dir, 'build'),
        buildroot: buildroot?.input,
        onProgress: evt => {
          if (evt.type === 'build:phase') this.safeDispatchEvent('progress', { detail: { job, phase: evt.detail.phase, at: performance.now() } })
        }
      })
      const record: BuildRecord = {
        job,
        status: result.status,
        buildHash: result.buildHash,
        files: result.files,
        environment: { ...result.environment, sandbox: result.isolation.sandbox, nice: String(result.isolation.priority.nice) } as Record<string, string>,
        durationMs: result.durationMs,
        logExcerpt: result.status === 'failed' ? `${result.reason ?? ''}\n${result.logExcerpt ?? ''}`.trim() : undefined,
        finishedAt: Date.now(),
        official: await this.compareOfficial(job, buildroot?.input, result, signal)
      }
      // the output RPMs go into the blob store (content-addressed), so agreeing builders can serve them;
      // not announced in the DHT: results are fetched from the agreeing builders by peer ID (results.ts),
      // and a provide per output file reaches most of the mesh. Each file's chunk size and root are
      // attested with it: a fetcher checks the hash list we serve against them. Then the work dir goes
      record.files = []
      for (const f of result.files) {
        const m = await this.init.libp2p.services.blobs.add(join(result.outputDir, f.name), { signal, provide: false })
        record.files.push({ ...f, chunkSize: m.chunkSize, chunkRoot: m.root })
      }
      this.init.store.recordBuild(record)
      rmSync(dir, { recursive: true, force: true })
      this.emitJob(job, record.status === 'ok' ? 'built' : 'failed', result.reason)
      this.safeDispatchEvent('built', { detail: { record, announcement: a } })
    } catch (err: any) {
      if (signal.aborted || this.stopped) {
        // left in its state: recoverJobs() queues it again at the next start
        this.init.log('job %s interrupted: %s', job, err.message)
        return
      }
      if (err instanceof BuildrootUnavailableError) {
        // declined: this node cannot build in the job's buildroot, and builds it in no other
        rmSync(dir, { recursive: true, force: true })
        this.setState(job, nevra, 'refused', err.message)
        return
      }
      this.setState(job, nevra, 'failed', err.message)
    } finally {
      buildroot?.release()
    }
  }

  /**
   * The job's buildroot, when its announcement names a manifest: the manifest fetched as a blob (checked
   * against its signed sha256 by the fetch), parsed, and every package it lists obtained and checked.
   * Throws BuildrootUnavailableError when any of it cannot be had.
   */
  private async buildroot (a: CheckedAnnouncement, signal: AbortSignal): Promise<{ input: BuildrootInput, release: () => void } | undefined> {
    const ref = buildrootRef(a.announcement)
    if (ref === undefined) return undefined
    if (this.init.packages === undefined) throw new BuildrootUnavailableError('buildroot cannot be materialised: this node has no package source (buildrootMirrors)')
    const deadline = AbortSignal.timeout(fetchDeadline(ref.size))
    const path = await this.init.libp2p.services.blobs.fetch(ref, {
      signal: AbortSignal.any([signal, deadline]),
      ...this.sources(a)
    })
    let manifest
    try {
      manifest = parseManifest(await readFile(path))
    } catch (err: any) {
      throw new BuildrootUnavailableError(err.message)
    }
    const { packages, release } = await this.init.packages.obtain(manifest, signal)
    return { input: { manifest, sha256: ref.sha256, packages }, release }
  }

  /**
   * How a successful build's outputs compare with the official build its manifest lists (attested with
   * them, docs/protocols/consensus.md); undefined without official digests, and when the outputs cannot be
   * read (logged: the build itself stands)
   */
  private async compareOfficial (job: string, buildroot: BuildrootInput | undefined, result: BuildResult, signal: AbortSignal): Promise<OfficialClaim | undefined> {
    const official = buildroot?.manifest.official
    if (official === undefined || official.length === 0 || result.status !== 'ok') return undefined
    try {
      return await compareWithOfficial(result.files.map(f => ({ name: f.name, path: join(result.outputDir, f.name) })), official, { signal })
    } catch (err: any) {
      signal.throwIfAborted()
      this.init.log('job %s: comparing with the official build: %s', job.slice(0, 12), err.message)
      return undefined
    }
  }

  /**
   * Where a job's blobs are fetched from (docs/protocols/blob.md, "Swarming"): the peer the announcement's
   * provider hint names, dialled at its addresses when not connected; the job's other stage-1 seats (they
   * fetch it too) once that seeder does not serve, before the DHT.
   */
  private sources (a: CheckedAnnouncement): Pick<FetchOptions, 'seeder' | 'seederAddrs' | 'fallback'> {
    const self = this.init.libp2p.peerId
    const stage1 = a.builders.slice(0, a.panel?.panel ?? a.builders.length).filter(p => !p.equals(self))
    const seeder = a.source !== undefined && !a.source.peer.equals(self) ? a.source : undefined
    return { seeder: seeder?.peer, seederAddrs: seeder?.addrs, fallback: stage1 }
  }

  /**
   * Fetches a job's SRPM from its seeder (the peer the provider hint names, kept as a source whatever others do)
   * and the swarm, within fetchDeadline(size): a fetch that makes no progress for a minute, or runs past
   * the deadline, fails the job with the reason, and the queue moves on.
   */
  private async fetchSrpm (job: string, a: CheckedAnnouncement, signal: AbortSignal): Promise<string> {
    const size = Number(a.announcement.srpmSize)
    const deadlineMs = fetchDeadline(size)
    const deadline = AbortSignal.timeout(deadlineMs)
    try {
      return await this.init.libp2p.services.blobs.fetch({
        sha256: Buffer.from(a.announcement.srpmSha256).toString('hex'),
        size,
        chunkSize: a.announcement.chunkSize,
        root: Buffer.from(a.announcement.chunkRoot).toString('hex')
      }, {
        signal: AbortSignal.any([signal, deadline]),
        ...this.sources(a),
        onProgress: evt => this.safeDispatchEvent('progress', { detail: { job, phase: 'fetch', at: performance.now(), done: evt.detail.done, total: evt.detail.total } })
      })
    } catch (err: any) {
      if (deadline.aborted && !signal.aborted) throw new Error(`SRPM fetch did not finish within ${Math.round(deadlineMs / 1000)} s`, { cause: err })
      throw err
    }
  }

  /**
   * A job killed in the middle of its build MAX_JOB_ATTEMPTS times (the build takes the node down, or
   * the machine) is a failed build of this node: recorded as one, so it is attested like any failed build
   * and the tally hears from this builder instead of waiting for the deadline.
   */
  private reportInterrupted (job: string): void {
    if (this.init.store.build(job) !== undefined) return
    const record: BuildRecord = {
      job,
      status: 'failed',
      buildHash: undefined,
      files: [],
      environment: { builder: this.init.builder?.kind ?? 'none' },
      durationMs: 0,
      logExcerpt: `interrupted ${MAX_JOB_ATTEMPTS} times (the node stopped during the build each time)`,
      finishedAt: Date.now()
    }
    this.init.store.recordBuild(record, `interrupted ${MAX_JOB_ATTEMPTS} times`)
  }

  /** Why the fetched SRPM must not be built, or undefined when it may */
  private async refusal (srpm: string, nevra: string, signal: AbortSignal): Promise<string | undefined> {
    if (this.init.keyring === undefined) return 'no Fedora keyring configured: nothing can be verified, so nothing is built'
    const { verifyRpmFile } = await import('../rpm/index.ts')
    const v = await verifyRpmFile(srpm, this.init.keyring, { signal })
    if (v.verdict !== 'accepted') return `SRPM signature check failed: ${v.reason ?? 'rejected'}`
    if (v.isSource !== true) return 'the announced file is not a source package'
    if (v.nevra !== nevra) return `the SRPM is ${v.nevra ?? '?'}, the announcement says ${nevra}`
    return undefined
  }

  private setState (job: string, nevra: string, state: JobState, error?: string): void {
    this.init.store.setJobState(job, state, error)
    this.emitJob(job, state, error, nevra)
  }

  private emitJob (job: string, state: JobState, error?: string, nevra?: string): void {
    if (error !== undefined) this.init.log('job %s %s: %s', job.slice(0, 12), state, error)
    this.safeDispatchEvent('job', { detail: { job, nevra: nevra ?? this.init.announcements.get(job)?.announcement.nevra ?? '', state, error } })
  }
}
