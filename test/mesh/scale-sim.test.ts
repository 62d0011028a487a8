/**
 * The scale simulation (bench/scale-sim.ts) in its reduced size: 10 real nodes in 2 processes and a
 * seeder, all bootstrapping from one node, 3 real jobs with the quick builder, announced with rules v2 (a panel
 * of 3, escalation 2, as the bench runs by default). Every node joins and every node holds every job's final
 * agreed verdict, the bytes by protocol add up to the control bytes, and a late newcomer joins the running mesh.
 */
import { strict as assert } from 'node:assert'
import { runScaleSim } from '../../bench/lib/scale-sim.ts'

describe('scale simulation, reduced size', function () {
  this.timeout(110_000)

  it('10 nodes in 2 processes join through one bootstrap node and all reach every final verdict', async () => {
    const r = await runScaleSim({ nodes: 10, workers: 2, jobs: 3, rate: 1, replicas: 3, quorum: 2, panel: { panel: 3, escalation: 2, threshold: 4 }, bootstrap: 1, joinS: 30, idleS: 1, waitS: 45, late: 1, log: () => {} })
    assert.equal(r.joined, 11, `${r.joined} of 11 nodes joined`)
    assert.equal(r.jobs, 3)
    assert.equal(r.rules, 'v2 3+2, T 4')
    assert.equal(r.agreedFraction, 1, `final agreed verdicts: ${(r.agreedFraction * 100).toFixed(1)}%`)
    assert.ok(r.join.max < 30_000)
    assert.equal(r.lateJoined, 1, 'the late newcomer never found a mesh peer')
    assert.ok(r.lateJoin.max < 30_000, `the late newcomer joined in ${r.lateJoin.max} ms`)
    // CPU less the idle mesh's can come out at or below zero on a busy machine: only bytes and memory are checked
    assert.ok(r.bytesPerNodePerJob > 0 && r.rssPerNodeMB > 0)
    // the breakdown by protocol adds up to the control bytes, and the seeder served the SRPMs by the blob protocol
    const control = (b: typeof r.seederBytes.perJob): number => b.sent.control + b.received.control
    assert.ok(Math.abs(control(r.seederBytes.perJob) - r.seederBytesPerJob) < 1, `seeder: ${control(r.seederBytes.perJob)} against ${r.seederBytesPerJob}`)
    assert.ok(Math.abs(control(r.builderBytes.perJob) - r.bytesPerNodePerJob) < 1, `builders: ${control(r.builderBytes.perJob)} against ${r.bytesPerNodePerJob}`)
    assert.ok(r.seederBytes.perJob.sent.blob > 0 && r.seederBytes.perJob.received.gossip > 0)
  })
})
