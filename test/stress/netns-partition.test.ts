/**
 * Stress: a mesh of `skyline node` processes spread over three network namespaces is partitioned,
 * keeps announcing and building on both sides, then heals. See test/stress/lib/partition.ts for the
 * layout and for what the design says must happen (asserted there). Needs root (network namespaces),
 * iproute2, rpmbuild, rpmsign, gpg and bwrap; skipped otherwise. About 40 s: fit for CI; the long run
 * is netns-partition.stress.ts.
 */
import { netnsSuite } from '../helpers/stress.ts'
import { partitionScenario } from './lib/partition.ts'

describe('stress: network partition across namespaces', function () {
  this.timeout(600_000)
  const suite = netnsSuite('skyline-stress-netns-')

  it('each side builds its own jobs while cut off; after the heal every node holds every attestation and the same final verdict for every job', async () => {
    await partitionScenario({
      dir: suite.dir(),
      sides: { a: 3, b: 2, c: 1 },
      waves: [1],
      replicas: 3,
      quorum: 2,
      partitionMs: 0,
      log: line => console.log(`      ${line}`)
    })
  })
})
