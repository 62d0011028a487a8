/**
 * An honest Skyline node in its own process that also tells the stress tests what its gossipsub thinks
 * of a peer: GET /score?peer=ID → {"score": n, "graylisted": bool, "connected": bool}. The node is a
 * plain SkylineNode (builder none), so a flood it takes costs the test process nothing.
 *
 *   node observer.ts '{"dataDir":"...","bootstrap":["/ip4/..."],"announcers":["skyline-announcer-ed25519 ..."]}'
 *
 * Prints `ready <listen multiaddr> <http port>`; stops on SIGTERM.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { loadConfig, SkylineNode } from '../../../src/node/index.ts'
import { SCORE_THRESHOLDS } from '../../../src/node/libp2p.ts'

const init = JSON.parse(process.argv[2]) as { dataDir: string, bootstrap: string[], announcers: string[] }
const config = loadConfig({ dataDir: init.dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], http: 'off', builder: 'none', bootstrap: init.bootstrap, announcers: init.announcers })
config.inboundConnectionThreshold = 1000
const node = new SkylineNode(config)
await node.start()
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x')
  const peer = url.searchParams.get('peer') ?? ''
  const score = (node.libp2p.services.pubsub as any).getScore(peer) as number
  const connected = node.libp2p.getConnections().some(c => c.remotePeer.toString() === peer)
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ score, graylisted: score < SCORE_THRESHOLDS.graylistThreshold, connected }))
})
await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
process.stdout.write(`ready ${node.libp2p.getMultiaddrs()[0].toString()} ${(server.address() as AddressInfo).port}\n`)
process.once('SIGTERM', () => {
  server.close()
  node.stop().finally(() => process.exit(0))
})
