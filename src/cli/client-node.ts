/**
 * A short-lived mesh node for commands that join the mesh without building (seed, control, watch): no
 * builder, DHT client mode (so it never lands in routing tables), no HTTP server, its own data dir.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, SkylineNode } from '../node/index.ts'
import { stringifyTopic, type TopicName } from '../protocols/ids.ts'

export interface ClientNodeOptions {
  name: string
  bootstrap?: string[]
  listen?: string[]
  dataDir?: string
  announcers?: string[]
  /** gossipsub's flood publishing of this node's messages (NodeConfig.floodPublish); @default true */
  floodPublish?: boolean
}

export async function startClientNode (opts: ClientNodeOptions): Promise<SkylineNode> {
  const config = loadConfig({
    dataDir: opts.dataDir ?? join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), `skyline-${opts.name}`),
    listen: opts.listen ?? ['/ip4/0.0.0.0/tcp/0'],
    bootstrap: opts.bootstrap,
    http: 'off',
    builder: 'none',
    announcers: opts.announcers ?? []
  })
  config.dhtClientMode = true
  config.floodPublish = opts.floodPublish ?? true
  const node = new SkylineNode(config)
  await node.start()
  return node
}

/** Waits until some peer subscribes to the topic (so a publish reaches the mesh), or throws */
export async function waitForTopicPeers (node: SkylineNode, topic: TopicName, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (node.libp2p.services.pubsub.getSubscribers(stringifyTopic(topic)).length === 0) {
    signal?.throwIfAborted()
    if (Date.now() > deadline) throw new Error(`no peer on ${stringifyTopic(topic)} after ${timeoutMs / 1000} s: is --bootstrap right?`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}
