/**
 * A Skyline mesh node: configuration, identity, the libp2p stack, topic subscriptions and the local
 * HTTP server (status and metrics).
 *
 * @example
 * ```ts
 * const node = new SkylineNode(loadConfig({ dataDir: '/tmp/n1', listen: ['/ip4/127.0.0.1/tcp/0'] }))
 * await node.start()
 * node.addEventListener('message', evt => console.info(evt.detail.topic))
 * await node.publish('announce', bytes)
 * await node.stop()
 * ```
 */
export { SkylineNode, type SkylineMessage, type SkylineNodeEvents } from './node.ts'
export { loadConfig, parseConfigFile, parseBootstrapList, defaultDataDir, type NodeConfig, type ConfigFile, type ConfigOverrides } from './config.ts'
export { ConfigError, IdentityError } from './errors.ts'
export type { MeshStats, NodeStats, ContributorStats, StatsRow } from '../rules/stats.ts'

export interface NodeStatus {
  peerId: string
  version: string
  uptimeSeconds: number
  /** MB */
  memory: { rss: number, heapUsed: number, external: number }
  dataDir: string
  listenAddresses: string[]
  connections: Array<{ peerId: string, address: string, direction: string }>
  connectedPeers: number
  dht: { mode: string, routingTableSize: number, protocol: string }
  topics: Record<string, { meshPeers: string[], subscribers: number }>
  builder: { kind: string | null, note: string | null, warnings: string[] }
  halted: { reason: string, since: number } | null
  throttle: { throttled: boolean, disputedShare: number, window: { size: number, disputed: number, ms: number } }
  alerts: Array<{ kind: string, message: string, at: number }>
  reputation: { agree: number, dissent: number, flagged: boolean }
  verdicts: Array<{ job: string, nevra: string | null, verdict: string, hash?: string, agreeing: string[], dissenters: string[], failedBuilders: string[], equivocators: string[], final: boolean }>
  jobs: Array<{ job: string, nevra: string | null, state: string, error: string | null, updatedAt: number, progress?: { phase: string, done?: number, total?: number } }>
}
