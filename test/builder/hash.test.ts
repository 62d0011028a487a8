import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hashFiles, sha256File } from '../../src/builder/index.ts'
import { buildHash, buildHashLine } from '../../src/rules/build-hash.ts'

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex')

describe('build: build hash', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'skyline-hash-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('is sha256 over the sorted "<sha256>  <name>\\n" lines (docs/protocols/consensus.md)', () => {
    const files = [
      { name: 'foo-devel-1.0-1.x86_64.rpm', sha256: sha('devel') },
      { name: 'foo-1.0-1.x86_64.rpm', sha256: sha('main') }
    ]
    const lines = files.map(f => `${f.sha256}  ${f.name}\n`).sort()
    assert.equal(buildHash(files), sha(lines.join('')))
    assert.equal(buildHash(files), buildHash([...files].reverse()))
    assert.equal(buildHashLine(files[0]), `${sha('devel')}  foo-devel-1.0-1.x86_64.rpm\n`)
  })

  it('matches `sha256sum * | LC_ALL=C sort | sha256sum`, and hashes files by streaming', async () => {
    await writeFile(join(dir, 'b-1-1.noarch.rpm'), Buffer.alloc(3 * 1024 * 1024 + 7, 1))
    await writeFile(join(dir, 'a-1-1.noarch.rpm'), 'small')
    await writeFile(join(dir, 'B-1-1.noarch.rpm'), 'upper case sorts first in C order')
    const expected = execFileSync('/bin/sh', ['-c', 'sha256sum *.rpm | LC_ALL=C sort | sha256sum'], { cwd: dir, encoding: 'utf8' }).split(' ')[0]
    const { files, buildHash: h } = await hashFiles(['b-1-1.noarch.rpm', 'a-1-1.noarch.rpm', 'B-1-1.noarch.rpm'].map(n => join(dir, n)))
    assert.equal(h, expected)
    assert.deepEqual(files.map(f => f.name), ['B-1-1.noarch.rpm', 'a-1-1.noarch.rpm', 'b-1-1.noarch.rpm'])
    assert.equal(files[2].size, 3 * 1024 * 1024 + 7)
    assert.equal(await sha256File(join(dir, 'a-1-1.noarch.rpm')), sha('small'))
  })

  it('differs when any file differs, and refuses malformed names or digests', () => {
    const a = [{ name: 'x.rpm', sha256: sha('1') }]
    assert.notEqual(buildHash(a), buildHash([{ name: 'x.rpm', sha256: sha('2') }]))
    assert.notEqual(buildHash(a), buildHash([{ name: 'y.rpm', sha256: sha('1') }]))
    assert.throws(() => buildHash([{ name: 'a/b.rpm', sha256: sha('1') }]), TypeError)
    assert.throws(() => buildHash([{ name: 'a\n.rpm', sha256: sha('1') }]), TypeError)
    assert.throws(() => buildHash([{ name: 'a.rpm', sha256: 'ABC' }]), TypeError)
  })
})
