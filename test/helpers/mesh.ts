/** Starts several real Skyline nodes in one process (separate libp2p instances, TCP on 127.0.0.1). */
import type { SingleKadDHT } from '@libp2p/kad-dht'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, SkylineNode, type ConfigOverrides, type NodeConfig } from '../../src/node/index.ts'
import { BUILDER_PROTOCOL } from '../../src/services/candidates.ts'

export interface TestMesh {
  nodes: SkylineNode[]
  dirs: string[]
  stop: () => Promise<void>
}

export function tempDir (prefix = 'skyline-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export async function startNode (overrides: ConfigOverrides = {}, options: ConstructorParameters<typeof SkylineNode>[1] = {}, patch: Partial<NodeConfig> = {}): Promise<SkylineNode> {
  const config = { ...loadConfig({ dataDir: tempDir(), listen: ['/ip4/127.0.0.1/tcp/0'], http: 'off', ...overrides }), ...patch }
  config.inboundConnectionThreshold = 1000
  const node = new SkylineNode(config, options)
  await node.start()
  return node
}

/** A bootstrap node and n-1 nodes that join through it. */
export async function startMesh (n: number, overrides: ConfigOverrides = {}, options: (i: number) => ConstructorParameters<typeof SkylineNode>[1] = () => ({}), patch: (i: number) => Partial<NodeConfig> = () => ({})): Promise<TestMesh> {
  const first = await startNode(overrides, options(0), patch(0))
  const boot = first.libp2p.getMultiaddrs()[0].toString()
  const rest = await Promise.all(Array.from({ length: n - 1 }, async (_, i) => startNode({ ...overrides, bootstrap: [boot] }, options(i + 1), patch(i + 1))))
  const nodes = [first, ...rest]
  const dirs = nodes.map(n => n.config.dataDir)
  return {
    nodes,
    dirs,
    stop: async () => {
      await Promise.allSettled(nodes.map(async n => n.stop()))
      for (const d of dirs) rmSync(d, { recursive: true, force: true })
    }
  }
}

/** Polls `check` until it returns true, or fails with `what` after `timeoutMs`. */
export async function waitFor (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

/** Waits until every node knows every other node as a builder (identify ran everywhere) */
export async function waitForBuilders (nodes: SkylineNode[], timeoutMs = 60_000): Promise<void> {
  await waitFor('a converged mesh of builders', async () => {
    for (const n of nodes) {
      for (const o of nodes) {
        if (o === n) continue
        const p = await n.libp2p.peerStore.get(o.libp2p.peerId).catch(() => undefined)
        if (p === undefined || !p.protocols.includes(BUILDER_PROTOCOL)) return false
      }
    }
    return true
  }, timeoutMs)
}

/** Bytes a node sent and received on libp2p's ping protocol (a stream per ping) */
export async function pingStreamBytes (node: SkylineNode): Promise<number> {
  const metric = node.registry.getSingleMetric('libp2p_data_transfer_bytes_total')
  const values = metric === undefined ? [] : (await metric.get()).values
  return values.filter(v => String(v.labels.protocol).startsWith('/ipfs/ping/')).reduce((a, v) => a + v.value, 0)
}

/** How many peers a node's (single, not dual) kad-dht holds in its routing table */
export function routingTableSize (node: SkylineNode): number {
  return (node.libp2p.services.dht as SingleKadDHT).routingTable.size
}
