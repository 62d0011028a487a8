import assert from 'node:assert/strict'
import { bytes, cacheReport, samples } from '../../src/cli/demo/cache.ts'
import type { NodeStatus } from '../../src/node/index.ts'

describe('demo: the package cache report', () => {
  const status = (fromMirrors: number, fromPeers: number, fromCache: number): NodeStatus => ({ buildrootPackages: { fromMirrors, fromPeers, fromCache, refused: 0 } }) as NodeStatus

  it('says per node and job where the buildroot bytes came from, and the totals', () => {
    const zero = samples([status(0, 0, 0), status(0, 0, 0), undefined])
    const first = samples([status(1000, 0, 0), status(0, 1000, 0), undefined])
    const second = samples([status(1000, 0, 1000), status(0, 1000, 0), undefined])
    const lines = cacheReport(['node-0', 'node-1', 'node-2'], [{ nevra: 'a-1-1.src', before: zero, after: first }, { nevra: 'a-1-2.src', before: first, after: second }], 1500)
    assert.match(lines[0], /^CACHE: /)
    assert.match(lines[1], /^ {2}node-0 +a-1-1\.src: mirror 1000 B +a-1-2\.src: cache 1000 B$/)
    assert.match(lines[2], /^ {2}node-1 +a-1-1\.src: peers 1000 B +a-1-2\.src: -$/)
    assert.match(lines[3], /^ {2}node-2 +a-1-1\.src: \? +a-1-2\.src: \?$/)
    assert.equal(lines[4], '  in all   from the mirror 1000 B, from peers 1000 B, from caches 1000 B (the mirror sent 1.5 KiB with its metadata)')
  })

  it('prints bytes in B, KiB and MiB', () => {
    assert.deepEqual([bytes(0), bytes(1023), bytes(1536), bytes(3 * 1024 * 1024)], ['0 B', '1023 B', '1.5 KiB', '3.0 MiB'])
  })
})
