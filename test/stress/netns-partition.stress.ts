/**
 * Stress (long suite only, scripts/test-stress.sh): the partition of netns-partition.test.ts with eight
 * nodes, two waves of announcements on each side, and a partition held for three minutes, well past
 * libp2p's redials of lost peers (see RECONNECT_RETRIES in src/node/libp2p.ts). See
 * test/stress/lib/partition.ts for what is asserted. Needs root; skipped otherwise.
 */
import { netnsSuite } from '../helpers/stress.ts'
import { partitionScenario } from './lib/partition.ts'

describe('stress: network partition across namespaces, held for minutes', function () {
  this.timeout(1_500_000)
  const suite = netnsSuite('skyline-stress-netns-')

  it('eight nodes, three minutes apart: each side builds its own jobs while cut off; after the heal every node holds every attestation and the same final verdict for every job', async () => {
    await partitionScenario({
      dir: suite.dir(),
      sides: { a: 3, b: 3, c: 2 },
      waves: [2, 1],
      replicas: 3,
      quorum: 2,
      partitionMs: 180_000,
      log: line => console.log(`      ${line}`)
    })
  })
})
