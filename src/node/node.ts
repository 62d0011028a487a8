import { chmodSync, mkdirSync, rmdirSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { TypedEventEmitter } from '@libp2p/interface'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { Message } from '@libp2p/gossipsub'
import { Registry } from 'prom-client'
import { createSkylineLibp2p, type SkylineLibp2p } from './libp2p.ts'
import { loadOrCreateIdentity } from './identity.ts'
import { HttpServer } from './http.ts'
import { TOPIC_NAMES, parseTopic, stringifyTopic, type TopicName } from '../protocols/topics.ts'
import type { NodeConfig } from './config.ts'
import { Store, announcementRow } from '../store/store.ts'
import { PeerPenalties } from '../services/penalties.ts'
import { installValidators, GossipValidationError, type ValidationOutcome, type GossipInput } from '../protocols/gossip.ts'
import { checkAnnouncement, type CheckedAnnouncement } from '../protocols/announce.ts'
import { checkControl, supersedes, type CheckedControl } from '../protocols/control.ts'
import { loadTrustedAnnouncers, type TrustedKeys } from '../protocols/signing.ts'
import { detectBuilder, type Builder } from '../builder/index.ts'
import type { Keyring } from '../rpm/index.ts'
import { JobRunner } from '../services/jobs.ts'
import { VerdictService } from '../services/verdicts.ts'
import { SyncService } from '../services/sync.ts'
import { BUILDER_PROTOCOL, findCandidates } from '../services/candidates.ts'
import { candidateCount } from '../rules/assignment.ts'
import { logger } from '@libp2p/logger'
import type { SingleKadDHT } from '@libp2p/kad-dht'
import type { NodeStatus } from './index.ts'
import { DHT_PROTOCOL } from './constants.ts'
import { computeStats, type MeshStats } from '../rules/stats.ts'
import type { JobProgress } from '../services/jobs.ts'

/** @default 2 s: how long computed stats are reused (the dashboard polls; the store is the truth) */
const STATS_CACHE_MS = 2_000
import pkg from '../../package.json' with { type: 'json' }

const VERSION: string = pkg.version

function memoryMb (): { rss: number, heapUsed: number, external: number } {
  const m = process.memoryUsage()
  const mb = (n: number): number => Math.round(n / 1e5) / 10
  return { rss: mb(m.rss), heapUsed: mb(m.heapUsed), external: mb(m.external) }
}

/** @default 5 s between bootstrap redials while the node has no connection */
const REDIAL_INTERVAL_MS = 5_000

/**
 * Where builds run. As root, builds run as uid 65534, which must reach its work dir: the data dir may
 * sit under a private home (/root), so builds go to /var/tmp/skyline-<id of the data dir> (0711: others
 * may traverse, not list). Otherwise under the data dir.
 */
function buildWorkDir (dataDir: string): string {
  if (process.getuid?.() !== 0) return join(dataDir, 'work')
  const dir = join('/var/tmp', `skyline-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`)
  mkdirSync(dir, { recursive: true, mode: 0o711 })
  chmodSync(dir, 0o711)
  return dir
}

export interface SkylineMessage {
  topic: TopicName
  data: Uint8Array
  from: string
}

export interface SkylineNodeEvents {
  /** a message accepted on a Skyline topic */
  message: CustomEvent<SkylineMessage>
  /** a new, valid announcement (from the mesh or from this node) */
  announcement: CustomEvent<CheckedAnnouncement>
  /** a halt or resume came into force */
  control: CustomEvent<CheckedControl>
  /** every gossip validation outcome, accepted or not */
  validation: CustomEvent<ValidationOutcome>
}

/** Assembles one Skyline node: identity, libp2p, topic subscriptions and the local HTTP server. */
export class SkylineNode extends TypedEventEmitter<SkylineNodeEvents> {
  readonly config: NodeConfig
  readonly registry = new Registry()
  libp2p!: SkylineLibp2p
  store!: Store
  trusted!: TrustedKeys
  readonly penalties = new PeerPenalties()
  builder: Builder | undefined
  /** why this node does not build, when it does not */
  builderNote: string | undefined
  builderWarnings: string[] = []
  keyring: Keyring | undefined
  jobs!: JobRunner
  consensus!: VerdictService
  sync!: SyncService
  readonly log = logger('skyline:node')
  /** set while a signed halt is in force: no new jobs are taken */
  halted: { reason: string, since: number } | undefined
  private http: HttpServer | undefined
  private workDir = ''
  private redialTimer: ReturnType<typeof setInterval> | undefined
  private removeValidators: (() => void) | undefined
  private started = false
  private startedAt = 0
  identityCreated = false
  /** the latest progress of this node's unfinished jobs */
  private readonly progress = new Map<string, JobProgress>()
  private statsCache: { at: number, stats: MeshStats } | undefined

  private readonly builderOverride: Builder | undefined

  /** `options.builder` replaces the detected builder (the operator's own wrapper, or a test's) */
  constructor (config: NodeConfig, options: { builder?: Builder } = {}) {
    super()
    this.config = config
    this.builderOverride = options.builder
  }

  get peerId (): string {
    return this.libp2p.peerId.toString()
  }

  /** Where the HTTP server listens (after start), e.g. http://127.0.0.1:7771 */
  get httpUrl (): string | undefined {
    return this.http?.url
  }

  async start (): Promise<void> {
    if (this.started) return
    mkdirSync(this.config.dataDir, { recursive: true, mode: 0o700 })
    const { privateKey, created } = await loadOrCreateIdentity(this.config.dataDir)
    this.identityCreated = created
    this.trusted = loadTrustedAnnouncers(this.config.announcers)
    if (this.config.keyring !== undefined) {
      // OpenPGP.js is large: loaded only by nodes that verify packages
      const { Keyring } = await import('../rpm/index.ts')
      this.keyring = await Keyring.load(this.config.keyring)
    }
    const detected = this.builderOverride !== undefined ? { builder: this.builderOverride, warnings: [] } : await detectBuilder(this.config.builder)
    this.builder = detected.builder
    this.builderNote = detected.builder === undefined ? detected.reason : undefined
    this.builderWarnings = detected.warnings
    this.store = new Store(join(this.config.dataDir, 'skyline.db'))
    this.libp2p = await createSkylineLibp2p({
      appSpecificScore: peer => this.penalties.score(peer) + (this.consensus?.appScore(peer) ?? 0),
      privateKey,
      listen: this.config.listen,
      announce: this.config.announce,
      bootstrap: this.config.bootstrap,
      maxConnections: this.config.maxConnections,
      inboundConnectionThreshold: this.config.inboundConnectionThreshold,
      dhtClientMode: this.config.dhtClientMode,
      registry: this.registry,
      blobDir: join(this.config.dataDir, 'blobs')
    })
    const pubsub = this.libp2p.services.pubsub
    pubsub.addEventListener('message', this.onMessage)
    this.removeValidators = installValidators(pubsub, {
      announce: async msg => { this.validateAnnouncement(msg) },
      control: async msg => { this.applyControl(checkControl(msg.data, this.trusted, Date.now())) },
      consensus: async msg => {
        if (this.consensus === undefined) throw new GossipValidationError('ignore', 'starting', 'node still starting')
        await this.consensus.validate(msg)
      }
    }, {
      metrics: this.libp2p.metrics,
      onOutcome: outcome => this.safeDispatchEvent('validation', { detail: outcome })
    })
    this.libp2p.services.blobs.addEventListener('peer:misbehaved', evt => {
      const score = this.penalties.penalise(evt.detail.peer.toString(), evt.detail.severity)
      this.log('peer %p misbehaved (%s): penalty %s, score now %d', evt.detail.peer, evt.detail.reason, evt.detail.severity, score)
    })
    this.workDir = buildWorkDir(this.config.dataDir)
    this.jobs = new JobRunner({
      libp2p: this.libp2p,
      store: this.store,
      builder: this.builder,
      keyring: this.keyring,
      workDir: this.workDir,
      log: logger('skyline:jobs'),
      accepting: () => this.halted === undefined && !this.consensus.throttled(),
      reload: envelope => {
        try { return checkAnnouncement(envelope, this.trusted, Date.now()) } catch { return undefined }
      }
    })
    this.consensus = new VerdictService({
      libp2p: this.libp2p,
      store: this.store,
      jobs: this.jobs,
      penalties: this.penalties,
      privateKey,
      trusted: () => this.trusted,
      selfEligible: this.builder !== undefined,
      contributor: this.config.contributor,
      publish: async data => { await this.publish('consensus', data) },
      log: logger('skyline:consensus')
    })
    this.jobs.addEventListener('progress', evt => { this.progress.set(evt.detail.job, evt.detail) })
    this.jobs.addEventListener('job', evt => { if (evt.detail.state !== 'fetching' && evt.detail.state !== 'building') this.progress.delete(evt.detail.job) })
    this.jobs.addEventListener('built', evt => {
      this.consensus.attest(evt.detail.record).catch(err => this.log.error('attesting job %s: %e', evt.detail.record.job, err))
    })
    this.addEventListener('announcement', this.onAnnouncement)
    // a banned builder's seat goes to the next candidate: that may be this node
    this.consensus.addEventListener('equivocation', evt => {
      const a = this.consensus.checkedAnnouncement(evt.detail.job)
      if (a !== undefined && Number(a.announcement.expiresAt) > Date.now()) this.assign(a)
    })
    const control = this.store.latestControl()
    if (control?.action === 'halt') {
      this.halted = { reason: control.reason, since: control.issuedAt }
      this.log('the mesh is halted since %s: %s', new Date(control.issuedAt).toISOString(), control.reason)
    }
    if (this.builder !== undefined) {
      await this.libp2p.handle(BUILDER_PROTOCOL, async (stream) => {
        // answers with this builder's capabilities, one small JSON line, then closes
        const body = JSON.stringify({ builder: this.builder?.kind, concurrency: this.jobs.concurrency, version: VERSION }) + '\n'
        stream.send(new TextEncoder().encode(body))
        await stream.close({ signal: AbortSignal.timeout(5_000) }).catch(err => stream.abort(err))
      }, { maxInboundStreams: 4, maxOutboundStreams: 1 })
    }
    this.sync = new SyncService({ libp2p: this.libp2p, store: this.store, log: logger('skyline:sync'), sink: { ingest: async (kind, envelope) => this.ingest(kind, envelope) } })
    // an attestation of a job this node never saw announced: it may have missed the announcement
    this.addEventListener('validation', evt => { if (evt.detail.reason === 'unknown-job') this.sync.gap() })
    await this.sync.start()
    // interrupted jobs are settled and missing attestations of recorded builds made before going online
    this.jobs.recover()
    this.consensus.recoverOwn()
    await this.libp2p.start()
    for (const name of TOPIC_NAMES) pubsub.subscribe(stringifyTopic(name))
    this.consensus.start()
    this.jobs.start()
    if (this.config.bootstrap.length > 0) {
      // the bootstrap module dials once; a node whose dials all failed (its bootstrap peer busy or down)
      // would stay alone, so redial while it has no connection at all
      this.redialTimer = setInterval(() => {
        if (this.libp2p.getConnections().length > 0) return
        for (const ma of this.config.bootstrap) {
          this.libp2p.dial(ma, { signal: AbortSignal.timeout(REDIAL_INTERVAL_MS) }).catch(err => this.log('bootstrap redial of %a failed: %e', ma, err))
        }
      }, REDIAL_INTERVAL_MS)
      this.redialTimer.unref()
    }
    if (this.config.http != null) {
      this.http = new HttpServer(this, this.config.http)
      try {
        await this.http.start()
      } catch (err) {
        await this.libp2p.stop()
        this.store.close()
        throw err
      }
    }
    this.started = true
    this.startedAt = Date.now()
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    clearInterval(this.redialTimer)
    await this.http?.stop()
    this.libp2p.services.pubsub.removeEventListener('message', this.onMessage)
    this.removeValidators?.()
    this.removeEventListener('announcement', this.onAnnouncement)
    await this.sync.stop()
    this.consensus.stop()
    await this.jobs.stop()
    // the build root under /var/tmp goes too when nothing is left in it
    try { rmdirSync(this.workDir) } catch {}
    await this.libp2p.stop()
    this.store.close()
  }

  private readonly onAnnouncement = (evt: CustomEvent<CheckedAnnouncement>): void => { this.assign(evt.detail) }

  /** Whether this node builds the job: queued if so */
  private assign (a: CheckedAnnouncement): void {
    this.jobs.onAnnouncement(a).catch(err => {
      if (this.started) this.log.error('assignment of job %s failed: %e', a.job, err)
    })
  }

  /**
   * The announce topic's validator: signature and fields (checkAnnouncement), then replay checks against
   * the store. Check-and-record runs without an await in between, so two copies arriving together
   * cannot both pass.
   */
  private validateAnnouncement (msg: GossipInput): void {
    const checked = checkAnnouncement(msg.data, this.trusted, Date.now())
    checked.source = msg.from
    this.recordAnnouncement(checked)
  }

  private recordAnnouncement (checked: CheckedAnnouncement): void {
    if (this.store.hasAnnouncement(checked.id)) throw new GossipValidationError('ignore', 'duplicate', 'announcement seen before')
    const a = checked.announcement
    if (this.store.announcementBySequence(checked.announcer, a.sequence) !== undefined) {
      throw new GossipValidationError('reject', 'sequence-reused', `announcer reused sequence ${a.sequence}`)
    }
    this.store.addAnnouncement(announcementRow(checked))
    this.safeDispatchEvent('announcement', { detail: checked })
    this.consensus?.onAnnouncement(checked)
  }

  /**
   * A valid control message: recorded; it takes effect when it is newer than the one in force.
   * Throws GossipValidationError(ignore) for duplicates and superseded messages, so they are not forwarded.
   */
  private applyControl (c: CheckedControl): void {
    const latest = this.store.latestControl()
    if (latest?.id === c.id || this.store.hasControl(c.id)) throw new GossipValidationError('ignore', 'duplicate', 'control message seen before')
    if (!supersedes(c, latest)) throw new GossipValidationError('ignore', 'stale', `an older ${c.action} than the one in force`)
    this.store.addControl({ ...c, receivedAt: Date.now() })
    this.halted = c.action === 'halt' ? { reason: c.reason, since: c.issuedAt } : undefined
    this.log('%s by announcer %s: %s', c.action.toUpperCase(), c.announcer.slice(0, 16), c.reason)
    if (c.action === 'resume') this.jobs.resume()
    this.safeDispatchEvent('control', { detail: c })
  }

  /** An item that came by sync: the same checks as gossip; false when it was known or invalid */
  private async ingest (kind: 'announcement' | 'control' | 'attestation' | 'equivocation', envelope: Uint8Array): Promise<boolean> {
    try {
      if (kind === 'announcement') this.recordAnnouncement(checkAnnouncement(envelope, this.trusted, Date.now()))
      else if (kind === 'control') this.applyControl(checkControl(envelope, this.trusted, Date.now()))
      else return await this.consensus.ingest(kind, envelope)
      return true
    } catch (err: any) {
      if (err instanceof GossipValidationError) return false
      throw err
    }
  }

  /** Checks, records and gossips a halt or resume made by this node's operator (skyline control) */
  async control (envelope: Uint8Array): Promise<CheckedControl> {
    const c = checkControl(envelope, this.trusted, Date.now())
    this.applyControl(c)
    await this.publish('control', envelope)
    return c
  }

  /**
   * The candidate builders to list in an announcement of a job: a DHT closest-peers lookup for the job
   * key (compute it with the beacon the announcement will carry), the candidateCount(r) closest eligible
   * peers. Returns fewer when the mesh has fewer builders.
   */
  async findCandidates (jobKey: Uint8Array, replicas: number, options: AbortOptions = {}): Promise<PeerId[]> {
    return findCandidates(this.libp2p, jobKey, { count: candidateCount(replicas), selfEligible: this.builder !== undefined, signal: options.signal, log: this.log })
  }

  /** Checks, records and gossips an announcement made by this node's operator (skyline seed) */
  async announce (envelope: Uint8Array): Promise<CheckedAnnouncement> {
    const checked = checkAnnouncement(envelope, this.trusted, Date.now())
    this.recordAnnouncement(checked)
    await this.publish('announce', envelope)
    return checked
  }

  async publish (topic: TopicName, data: Uint8Array): Promise<void> {
    await this.libp2p.services.pubsub.publish(stringifyTopic(topic), data)
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    const topic = parseTopic(msg.topic)
    if (topic === undefined || msg.type !== 'signed') return
    this.safeDispatchEvent('message', { detail: { topic, data: msg.data, from: msg.from.toString() } })
  }

  /**
   * The stats tracker (src/rules/stats.ts): builds, agreement and credit per node and contributor,
   * computed from this node's attestations and verdicts; reused for STATS_CACHE_MS.
   */
  stats (now = Date.now()): MeshStats {
    const cached = this.statsCache
    if (cached !== undefined && now - cached.at >= 0 && now - cached.at < STATS_CACHE_MS) return cached.stats
    const stats = computeStats(this.store.statsInput(), { self: this.peerId, now })
    this.statsCache = { at: now, stats }
    return stats
  }

  status (): NodeStatus {
    const lp = this.libp2p
    const pubsub = lp.services.pubsub as any
    const topics: NodeStatus['topics'] = {}
    for (const name of TOPIC_NAMES) {
      const t = stringifyTopic(name)
      topics[t] = {
        meshPeers: (pubsub.getMeshPeers?.(t) ?? []).map(String),
        subscribers: lp.services.pubsub.getSubscribers(t).length
      }
    }
    return {
      peerId: lp.peerId.toString(),
      version: VERSION,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      memory: memoryMb(),
      dataDir: this.config.dataDir,
      listenAddresses: lp.getMultiaddrs().map(String),
      connections: lp.getConnections().map(c => ({ peerId: c.remotePeer.toString(), address: c.remoteAddr.toString(), direction: c.direction })),
      connectedPeers: lp.getPeers().length,
      dht: { mode: lp.services.dht.getMode(), routingTableSize: (lp.services.dht as SingleKadDHT).routingTable.size, protocol: DHT_PROTOCOL },
      topics,
      builder: { kind: this.builder?.kind ?? null, note: this.builderNote ?? null, warnings: this.builderWarnings },
      halted: this.halted ?? null,
      throttle: this.consensus.throttleState(),
      alerts: this.consensus.alerts,
      reputation: this.consensus.standing(this.peerId),
      verdicts: this.store.verdicts().slice(-50).map(v => ({ job: v.job, nevra: this.store.announcementForJob(v.job)?.nevra ?? null, ...JSON.parse(v.detail) })),
      jobs: this.store.jobs().slice(-200).map(j => {
        const p = this.progress.get(j.job)
        return {
          job: j.job,
          nevra: this.store.announcementForJob(j.job)?.nevra ?? null,
          state: j.state,
          error: j.error ?? null,
          updatedAt: j.updatedAt,
          ...(p !== undefined && (j.state === 'fetching' || j.state === 'building') ? { progress: { phase: p.phase, ...(p.total !== undefined ? { done: p.done, total: p.total } : {}) } } : {})
        }
      })
    }
  }
}
