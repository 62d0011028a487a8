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
export type { NodeStatus } from './status.ts'
