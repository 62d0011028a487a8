/**
 * Assembles one Skyline node: identity, the libp2p stack, the services (announcements, control, jobs,
 * verdicts, sync, the builder protocol, bootstrap redial), the topic validators, and the local HTTP
 * server. It holds no protocol logic of its own: each part lives in src/services and is wired here.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { TypedEventEmitter } from '@libp2p/interface'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { Message } from '@libp2p/gossipsub'
import { logger } from '@libp2p/logger'
import { Registry } from 'prom-client'
import pkg from '../../package.json' with { type: 'json' }
import { createSkylineLibp2p } from './libp2p.ts'
import { loadOrCreateIdentity } from './identity.ts'
import { HttpServer } from './http.ts'
import type { NodeConfig } from './config.ts'
import { DHT_PROTOCOL } from './constants.ts'
import { nodeStatus, type NodeStatus } from './status.ts'
import { TOPIC_NAMES, parseTopic, stringifyTopic, type TopicName } from '../protocols/ids.ts'
import { installValidators, GossipValidationError, type ValidationOutcome, type TopicValidator } from '../protocols/gossip.ts'
import type { CheckedAnnouncement } from '../protocols/announce.ts'
import type { CheckedControl } from '../protocols/control.ts'
import { loadTrustedAnnouncers, type TrustedKeys } from '../protocols/signing.ts'
import { Store } from '../store/store.ts'
import { detectBuilder, type Builder } from '../builder/index.ts'
import { buildWorkDir, removeWorkDir } from '../builder/workdir.ts'
import type { Keyring } from '../rpm/index.ts'
import { startAll, stopAll, type SkylineLibp2p, type Startable } from '../services/components.ts'
import { PeerPenalties } from '../services/penalties.ts'
import { AnnouncementService } from '../services/announcements.ts'
import { ControlService, type HaltState } from '../services/control.ts'
import { JobRunner, type JobProgress } from '../services/jobs.ts'
import { PackageCache } from '../services/buildroot/package-cache.ts'
import { PeerPackages } from '../services/buildroot/peer-packages.ts'
import { VerdictService } from '../services/verdicts.ts'
import { SyncService, type SyncKind } from '../services/sync.ts'
import { BuilderProtocol } from '../services/builder-protocol.ts'
import { BootstrapRedial } from '../services/redial.ts'
import { TrafficRecorder } from '../services/traffic.ts'
import { MeteredLink } from '../services/metered.ts'
import { trafficReport, type TrafficReport } from './traffic.ts'
import { findCandidates } from '../services/candidates.ts'
import { candidateCount } from '../rules/assignment.ts'
import { RULES_V2 } from '../protocols/announce.ts'
import type { EligibilityPolicy } from '../rules/eligibility.ts'
import { computeStats, type MeshStats } from '../rules/stats.ts'

const VERSION: string = pkg.version

/** @default 2 s: how long computed stats are reused (the dashboard polls; the store is the truth) */
const STATS_CACHE_MS = 2_000

export interface SkylineMessage {
  topic: TopicName
  data: Uint8Array
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

/** One Skyline node: its parts, started and stopped in order */
export class SkylineNode extends TypedEventEmitter<SkylineNodeEvents> {
  readonly config: NodeConfig
  readonly registry = new Registry()
  readonly log = logger('skyline:node')
  /** one penalty table: flood, blob and equivocation penalties all feed the gossip score */
  readonly penalties = new PeerPenalties()
  libp2p!: SkylineLibp2p
  store!: Store
  trusted!: TrustedKeys
  announcements!: AnnouncementService
  controls!: ControlService
  jobs!: JobRunner
  /** the buildroot package cache: status() reports its byte counters */
  packages!: PackageCache
  verdicts!: VerdictService
  sync!: SyncService
  builder: Builder | undefined
  /** why this node does not build, when it does not */
  builderNote: string | undefined
  builderWarnings: string[] = []
  keyring: Keyring | undefined
  identityCreated = false
  private http: HttpServer | undefined
  private workDir: string | undefined
  private parts: Startable[] = []
  private removeValidators: (() => void) | undefined
  private started = false
  private startedAt = 0
  /** the latest progress of this node's unfinished jobs */
  private readonly progress = new Map<string, JobProgress>()
  private statsCache: { at: number, stats: MeshStats } | undefined
  private readonly builderOverride: Builder | undefined
  private trafficLog: TrafficRecorder | undefined

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

  /** Set while a signed halt is in force: no new jobs are taken */
  get halted (): HaltState | undefined {
    return this.controls?.halted
  }

  async start (): Promise<void> {
    if (this.started) return
    const { config } = this
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
    const { privateKey, created } = await loadOrCreateIdentity(config.dataDir)
    this.identityCreated = created
    this.trusted = loadTrustedAnnouncers(config.announcers)
    if (config.keyring !== undefined) {
      // OpenPGP.js is large: loaded only by nodes that verify packages
      const { Keyring } = await import('../rpm/index.ts')
      this.keyring = await Keyring.load(config.keyring)
    }
    const detected = this.builderOverride !== undefined ? { builder: this.builderOverride, warnings: [] } : await detectBuilder(config.builder, { mockConfig: config.mock.config, mockIsolation: config.mock.isolation, mockHermetic: config.mock.hermetic })
    this.builder = detected.builder
    this.builderNote = detected.builder === undefined ? detected.reason : undefined
    this.builderWarnings = detected.warnings
    this.store = new Store(join(config.dataDir, 'skyline.db'))
    this.libp2p = await createSkylineLibp2p({
      appSpecificScore: peer => this.penalties.score(peer) + (this.verdicts?.appScore(peer) ?? 0),
      privateKey,
      listen: config.listen,
      announce: config.announce,
      bootstrap: config.bootstrap,
      maxConnections: config.maxConnections,
      inboundConnectionThreshold: config.inboundConnectionThreshold,
      dhtClientMode: config.dhtClientMode,
      floodPublish: config.floodPublish,
      registry: this.registry,
      blobDir: join(config.dataDir, 'blobs'),
      maxUpload: config.maxUpload,
      maxDownload: config.maxDownload
    })
    this.workDir = buildWorkDir(config.dataDir)
    this.createServices(privateKey)
    this.wire()
    // parts that register protocol handlers start before libp2p, so the first identify lists them
    await startAll(this.parts)
    this.jobs.recover()
    this.verdicts.recoverOwn()
    await this.libp2p.start()
    for (const name of TOPIC_NAMES) this.libp2p.services.pubsub.subscribe(stringifyTopic(name))
    this.verdicts.start()
    this.jobs.start()
    this.parts.push(this.verdicts, this.jobs)
    if (config.http != null) {
      this.http = new HttpServer(this, config.http)
      try {
        await this.http.start()
      } catch (err) {
        await this.stopParts()
        throw err
      }
    }
    this.started = true
    this.startedAt = Date.now()
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.http?.stop()
    await this.stopParts()
  }

  private async stopParts (): Promise<void> {
    this.libp2p.services.pubsub.removeEventListener('message', this.onMessage)
    this.removeValidators?.()
    try {
      await stopAll(this.parts)
    } finally {
      if (this.workDir !== undefined) removeWorkDir(this.workDir)
      await this.libp2p.stop()
      this.store.close()
    }
  }

  private createServices (privateKey: Parameters<typeof createSkylineLibp2p>[0]['privateKey']): void {
    const { libp2p, store } = this
    const trusted = (): TrustedKeys => this.trusted
    this.announcements = new AnnouncementService({ store, trusted, log: logger('skyline:announce') })
    this.controls = new ControlService({ store, trusted, log: logger('skyline:control') })
    const peerPackages = new PeerPackages({ libp2p, blobs: libp2p.services.blobs, log: logger('skyline:packages:peers') })
    this.packages = new PackageCache({ directory: join(this.config.dataDir, 'buildroot-packages'), mirrors: this.config.buildrootMirrors, maxBytes: this.config.buildrootCacheBytes, peers: peerPackages, log: logger('skyline:packages') })
    this.jobs = new JobRunner({
      libp2p,
      store,
      builder: this.builder,
      keyring: this.keyring,
      workDir: this.workDir!,
      log: logger('skyline:jobs'),
      announcements: this.announcements,
      accepting: () => this.halted === undefined && !this.verdicts.throttled() && !libp2p.services.blobs.paused,
      seating: a => this.verdicts.seating(a),
      packages: this.packages
    })
    this.verdicts = new VerdictService({
      libp2p,
      store,
      jobs: this.jobs,
      penalties: this.penalties,
      privateKey,
      announcements: this.announcements,
      selfEligible: this.builder !== undefined,
      contributor: this.config.contributor,
      publish: async data => { await this.publish('consensus', data) },
      log: logger('skyline:verdicts')
    })
    this.sync = new SyncService({ libp2p, store, log: logger('skyline:sync'), sink: { ingest: async (kind, envelope) => this.ingest(kind, envelope) } })
    this.parts = [this.controls, this.sync, peerPackages, new BootstrapRedial({ libp2p, bootstrap: this.config.bootstrap, log: this.log })]
    this.parts.push(this.trafficLog = new TrafficRecorder({ registry: this.registry, store, log: logger('skyline:traffic') }))
    this.parts.push(new MeteredLink({ blobs: libp2p.services.blobs, log: logger('skyline:metered') }, { mode: this.config.metered, onChange: paused => { if (!paused) this.jobs.resume() } }))
    if (this.builder !== undefined) {
      const builder = this.builder
      this.parts.push(new BuilderProtocol({ libp2p, capabilities: () => ({ builder: builder.kind, concurrency: this.jobs.concurrency, version: VERSION }) }))
    }
  }

  /** The topic validators, in one typed map, and the events that tie the services together */
  private wire (): void {
    const pubsub = this.libp2p.services.pubsub
    const validators: Record<TopicName, TopicValidator> = {
      announce: msg => { this.announcements.validate(msg) },
      control: msg => { this.controls.validate(msg) },
      consensus: async msg => { await this.verdicts.validate(msg) }
    }
    pubsub.addEventListener('message', this.onMessage)
    this.removeValidators = installValidators(pubsub, validators, {
      metrics: this.libp2p.metrics,
      penalise: (peer, severity) => { this.penalties.penalise(peer, severity) },
      onOutcome: outcome => this.safeDispatchEvent('validation', { detail: outcome })
    })
    this.libp2p.services.blobs.addEventListener('peer:misbehaved', evt => {
      const score = this.penalties.penalise(evt.detail.peer.toString(), evt.detail.severity)
      this.log('peer %p misbehaved (%s): penalty %s, score now %d', evt.detail.peer, evt.detail.reason, evt.detail.severity, score)
    })
    this.announcements.addEventListener('announcement', evt => {
      this.verdicts.onAnnouncement(evt.detail)
      this.assign(evt.detail)
      this.safeDispatchEvent('announcement', { detail: evt.detail })
    })
    this.controls.addEventListener('control', evt => {
      if (evt.detail.action === 'resume') this.jobs.resume()
      this.safeDispatchEvent('control', { detail: evt.detail })
    })
    this.jobs.addEventListener('progress', evt => { this.progress.set(evt.detail.job, evt.detail) })
    this.jobs.addEventListener('job', evt => { if (evt.detail.state !== 'fetching' && evt.detail.state !== 'building') this.progress.delete(evt.detail.job) })
    this.jobs.addEventListener('built', evt => {
      this.verdicts.attest(evt.detail.record).catch(err => this.log.error('attesting job %s: %e', evt.detail.record.job, err))
    })
    // a banned builder's seat goes to the next candidate: that may be this node
    this.verdicts.addEventListener('equivocation', evt => {
      const a = this.announcements.get(evt.detail.job)
      if (a !== undefined && Number(a.announcement.expiresAt) > Date.now()) this.assign(a)
    })
    // rules v2: an escalated job seats E more builders: that may be this node
    this.verdicts.addEventListener('verdict', evt => {
      const a = evt.detail.escalated === true && !evt.detail.final ? this.announcements.get(evt.detail.job) : undefined
      if (a !== undefined) this.assign(a)
    })
    // an attestation of a job this node never saw announced: it may have missed the announcement
    this.verdicts.addEventListener('gap', () => { this.sync.gap() })
  }

  /** Whether this node builds the job: queued if so */
  private assign (a: CheckedAnnouncement): void {
    this.jobs.onAnnouncement(a).catch(err => {
      if (this.started) this.log.error('assignment of job %s failed: %e', a.job, err)
    })
  }

  /** An item that came by sync: the same checks as gossip; false when it was known or invalid */
  private async ingest (kind: SyncKind, envelope: Uint8Array): Promise<boolean> {
    try {
      if (kind === 'announcement') this.announcements.add(envelope)
      else if (kind === 'control') this.controls.add(envelope)
      else return await this.verdicts.ingest(kind, envelope)
      return true
    } catch (err: any) {
      if (err instanceof GossipValidationError) return false
      throw err
    }
  }

  /** Checks, records and gossips a halt or resume made by this node's operator (skyline control) */
  async control (envelope: Uint8Array): Promise<CheckedControl> {
    const c = this.controls.add(envelope)
    await this.publish('control', envelope)
    return c
  }

  /**
   * The candidate builders to list in an announcement of a job (candidates.ts): the candidateCount(seats)
   * best-ranked eligible peers, leaving out builders this node holds a ban proof for. Rules v2 (`beacon`
   * required): ranked by salted position; with K = 0 builders ejected after losing an escalation are left
   * out, with a policy K > 0 eligibility is judged from this node's log as of `issuedAt` (default now) and
   * up to `probation` non-eligible ones are listed too. Returns fewer when the mesh has fewer builders.
   */
  async findCandidates (jobKey: Uint8Array, seats: number, options: AbortOptions & { rules?: number, beacon?: Uint8Array, policy?: EligibilityPolicy, issuedAt?: number } = {}): Promise<PeerId[]> {
    const v2 = options.rules === RULES_V2
    if (v2 !== (options.beacon !== undefined)) throw new Error('candidates: rules v2 (rules: RULES_V2) and a beacon go together')
    const listing = v2 ? this.verdicts.eligibility.listing(options.policy, options.issuedAt ?? Date.now()) : {}
    // ejection is a rule of v2 panels; with a policy K > 0 it is part of eligibility (probation may seat them)
    const ejected = v2 && listing.isEligible === undefined ? this.verdicts.ejectedBuilders() : []
    const excluded = new Set([...this.store.bannedSet(), ...ejected])
    return findCandidates(this.libp2p, jobKey, { count: candidateCount(seats), selfEligible: this.builder !== undefined, excluded, beacon: options.beacon, ...listing, signal: options.signal, log: this.log })
  }

  /** Checks, records and gossips an announcement made by this node's operator (skyline seed) */
  async announce (envelope: Uint8Array): Promise<CheckedAnnouncement> {
    const checked = this.announcements.add(envelope)
    await this.publish('announce', envelope)
    return checked
  }

  async publish (topic: TopicName, data: Uint8Array): Promise<void> {
    await this.libp2p.services.pubsub.publish(stringifyTopic(topic), data)
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    const topic = parseTopic(msg.topic)
    if (topic === undefined) return
    this.safeDispatchEvent('message', { detail: { topic, data: msg.data } })
  }

  /**
   * The stats tracker (src/rules/stats.ts): builds, agreement and credit per node and contributor,
   * computed from this node's attestations and verdicts. Stats of now are reused for STATS_CACHE_MS;
   * stats at a given moment (recent credit decays with time) are computed for that moment.
   */
  stats (at?: number): MeshStats {
    const now = at ?? Date.now()
    const cached = this.statsCache
    if (at === undefined && cached !== undefined && now - cached.at >= 0 && now - cached.at < STATS_CACHE_MS) return cached.stats
    const stats = computeStats(this.store.statsInput(), { self: this.peerId, now })
    if (at === undefined) this.statsCache = { at: now, stats }
    return stats
  }

  /** Bytes per day by protocol (up to now), and the traffic, builds and credit of each of the last 30 days (GET /api/traffic) */
  async traffic (): Promise<TrafficReport> {
    await this.trafficLog?.flush()
    return trafficReport(this.store, this.peerId, Date.now())
  }

  status (): NodeStatus {
    return nodeStatus({
      libp2p: this.libp2p,
      store: this.store,
      verdicts: this.verdicts,
      version: VERSION,
      dataDir: this.config.dataDir,
      dhtProtocol: DHT_PROTOCOL,
      startedAt: this.startedAt,
      builder: { kind: this.builder?.kind ?? null, note: this.builderNote ?? null, warnings: this.builderWarnings },
      halted: this.halted,
      progress: this.progress,
      buildrootPackages: this.packages.stats
    })
  }
}
