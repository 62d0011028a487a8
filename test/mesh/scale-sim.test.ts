/**
 * The scale simulation (bench/scale-sim.ts) in its reduced size: 10 real nodes in 2 processes and a
 * seeder, all bootstrapping from one node, 3 real jobs with the quick builder, announced with rules v2 (a panel
 * of 3, escalation 2, as the bench runs by default). Every node joins and every node holds every job's final
 * agreed verdict.
 */
import { strict as assert } from 'node:assert'
import { runScaleSim } from '../../bench/lib/scale-sim.ts'

describe('scale simulation, reduced size', function () {
  this.timeout(110_000)

  it('10 nodes in 2 processes join through one bootstrap node and all reach every final verdict', async () => {
    const r = await runScaleSim({ nodes: 10, workers: 2, jobs: 3, rate: 1, replicas: 3, quorum: 2, panel: { panel: 3, escalation: 2, threshold: 4 }, bootstrap: 1, joinS: 30, idleS: 1, waitS: 45, log: () => {} })
    assert.equal(r.joined, 11, `${r.joined} of 11 nodes joined`)
    assert.equal(r.jobs, 3)
    assert.equal(r.rules, 'v2 3+2, T 4')
    assert.equal(r.agreedFraction, 1, `final agreed verdicts: ${(r.agreedFraction * 100).toFixed(1)}%`)
    assert.ok(r.join.max < 30_000)
    // CPU less the idle mesh's can come out at or below zero on a busy machine: only bytes and memory are checked
    assert.ok(r.bytesPerNodePerJob > 0 && r.rssPerNodeMB > 0)
  })
})
