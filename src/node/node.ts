import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { TypedEventEmitter } from '@libp2p/interface'
import type { Message } from '@libp2p/gossipsub'
import { Registry } from 'prom-client'
import { createSkylineLibp2p, type SkylineLibp2p } from './libp2p.ts'
import { loadOrCreateIdentity } from './identity.ts'
import { HttpServer } from './http.ts'
import { TOPIC_NAMES, parseTopic, stringifyTopic, type TopicName } from '../protocols/topics.ts'
import type { NodeConfig } from './config.ts'
import { Store } from './store.ts'
import { PeerPenalties } from './penalties.ts'
import { installValidators, GossipValidationError, type ValidationOutcome, type GossipInput } from '../protocols/gossip.ts'
import { checkAnnouncement, type CheckedAnnouncement } from '../protocols/announce.ts'
import { loadTrustedAnnouncers, type TrustedKeys } from '../protocols/signing.ts'
import type { NodeStatus } from './index.ts'
import { DHT_PROTOCOL } from './constants.ts'
import pkg from '../../package.json' with { type: 'json' }

const VERSION: string = pkg.version

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
  private http: HttpServer | undefined
  private removeValidators: (() => void) | undefined
  private started = false
  private startedAt = 0
  identityCreated = false

  constructor (config: NodeConfig) {
    super()
    this.config = config
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
    this.store = new Store(join(this.config.dataDir, 'skyline.db'))
    this.libp2p = await createSkylineLibp2p({
      appSpecificScore: peer => this.penalties.score(peer),
      privateKey,
      listen: this.config.listen,
      announce: this.config.announce,
      bootstrap: this.config.bootstrap,
      maxConnections: this.config.maxConnections,
      inboundConnectionThreshold: this.config.inboundConnectionThreshold,
      dhtClientMode: this.config.dhtClientMode,
      registry: this.registry
    })
    const pubsub = this.libp2p.services.pubsub
    pubsub.addEventListener('message', this.onMessage)
    this.removeValidators = installValidators(pubsub, {
      announce: async msg => { this.validateAnnouncement(msg) }
    }, {
      metrics: this.libp2p.metrics,
      onOutcome: outcome => this.safeDispatchEvent('validation', { detail: outcome })
    })
    for (const name of TOPIC_NAMES) pubsub.subscribe(stringifyTopic(name))
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
    await this.http?.stop()
    this.libp2p.services.pubsub.removeEventListener('message', this.onMessage)
    this.removeValidators?.()
    await this.libp2p.stop()
    this.store.close()
  }

  /**
   * The announce topic's validator: signature and fields (checkAnnouncement), then replay checks against
   * the store. Check-and-record runs without an await in between, so two copies arriving together
   * cannot both pass.
   */
  private validateAnnouncement (msg: GossipInput): void {
    const checked = checkAnnouncement(msg.data, this.trusted, Date.now())
    this.recordAnnouncement(checked)
  }

  private recordAnnouncement (checked: CheckedAnnouncement): void {
    if (this.store.hasAnnouncement(checked.id)) throw new GossipValidationError('ignore', 'duplicate', 'announcement seen before')
    const a = checked.announcement
    if (this.store.announcementBySequence(checked.announcer, a.sequence) !== undefined) {
      throw new GossipValidationError('reject', 'sequence-reused', `announcer reused sequence ${a.sequence}`)
    }
    this.store.addAnnouncement({
      id: checked.id,
      job: checked.job,
      announcer: checked.announcer,
      sequence: a.sequence,
      nevra: a.nevra,
      srpmSha256: Buffer.from(a.srpmSha256).toString('hex'),
      expiresAt: Number(a.expiresAt),
      receivedAt: Date.now(),
      envelope: checked.envelope
    })
    this.safeDispatchEvent('announcement', { detail: checked })
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
      dataDir: this.config.dataDir,
      listenAddresses: lp.getMultiaddrs().map(String),
      connections: lp.getConnections().map(c => ({ peerId: c.remotePeer.toString(), address: c.remoteAddr.toString(), direction: c.direction })),
      connectedPeers: lp.getPeers().length,
      dht: { mode: lp.services.dht.getMode(), routingTableSize: lp.services.dht.routingTable.size, protocol: DHT_PROTOCOL },
      topics
    }
  }
}
