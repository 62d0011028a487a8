import assert from 'node:assert/strict'
import { attachServiceLog } from '../../src/cli/node-log.ts'
import type { SkylineNode } from '../../src/node/index.ts'

/** A stand-in node: only the event targets the service log listens to */
function fakeNode (): { node: SkylineNode, jobs: EventTarget, verdicts: EventTarget, blobs: EventTarget, self: EventTarget } {
  const self = new EventTarget()
  const jobs = new EventTarget()
  const verdicts = new EventTarget()
  const blobs = new EventTarget()
  Object.assign(self, { jobs, verdicts, libp2p: { services: { blobs } } })
  return { node: self as unknown as SkylineNode, jobs, verdicts, blobs, self }
}

const emit = (t: EventTarget, type: string, detail: unknown): void => { t.dispatchEvent(new CustomEvent(type, { detail })) }

describe('skyline node service log', () => {
  it('writes one JSON line per event an operator cares about, and nothing for others', () => {
    const { node, jobs, verdicts, blobs, self } = fakeNode()
    const lines: string[] = []
    const log = attachServiceLog(node, 'json', { write: (s: string) => lines.push(s) })
    emit(jobs, 'assignment', { job: 'a'.repeat(64), nevra: 'hello-1-1.src', builders: ['12D3KooWxyz12345678'], mine: false })
    emit(jobs, 'assignment', { job: 'a'.repeat(64), nevra: 'hello-1-1.src', builders: ['12D3KooWxyz12345678'], mine: true })
    emit(jobs, 'job', { job: 'a'.repeat(64), nevra: 'hello-1-1.src', state: 'refused', error: 'untrusted key' })
    emit(verdicts, 'verdict', { job: 'a'.repeat(64), nevra: 'hello-1-1.src', verdict: 'agreed', final: false, agreeing: [], dissenters: [] })
    emit(verdicts, 'verdict', { job: 'a'.repeat(64), nevra: 'hello-1-1.src', verdict: 'disputed', final: true, hash: 'b'.repeat(64), agreeing: ['P1', 'P2', 'P3'], dissenters: ['P4'] })
    emit(verdicts, 'alert', { kind: 'throttle', message: 'the mesh is throttled' })
    emit(self, 'control', { action: 'halt', reason: 'koji fallback', announcer: 'c'.repeat(64) })
    emit(blobs, 'transfer', { paused: true })
    emit(blobs, 'transfer', { paused: false })
    const objs = lines.map(l => JSON.parse(l))
    assert.deepEqual(objs.map(o => o.event), ['assigned', 'job', 'verdict', 'alert', 'control', 'transfer', 'transfer'], 'not assigned to this node, and a verdict not yet final, are not logged')
    assert.deepEqual(objs.map(o => o.level), ['info', 'warn', 'warn', 'error', 'warn', 'warn', 'info'])
    assert.match(objs[5].msg, /PAUSED: the link is metered/)
    assert.equal(objs[6].paused, false)
    assert.equal(objs[1].error, 'untrusted key')
    assert.deepEqual(objs[2].dissenters, ['P4'])
    for (const o of objs) assert.ok(!Number.isNaN(Date.parse(o.ts)))
    log.detach()
    emit(verdicts, 'alert', { kind: 'dissent', message: 'x' })
    assert.equal(lines.length, 7, 'detached')
  })

  it('writes text lines by default', () => {
    const { node, jobs } = fakeNode()
    const lines: string[] = []
    attachServiceLog(node, 'text', { write: (s: string) => lines.push(s) })
    emit(jobs, 'job', { job: 'f'.repeat(64), nevra: 'hello-1-1.src', state: 'building' })
    assert.match(lines[0], /^\S+Z INFO +job ffffffffffff hello-1-1\.src: building\n$/)
  })
})
