/**
 * The output stream from the sandbox (src/builder/output-stream.ts) is untrusted input: what a hostile
 * build can write on fd 4 besides the well-formed stream the script writes.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { receiveOutputs } from '../../src/builder/output-stream.ts'
import { OutputSink } from '../../src/builder/outputs.ts'

const header = (name: string, size: number): Buffer => Buffer.from(`F ${size} ${Buffer.from(name).toString('hex')}\n`)

/** The stream in small chunks, so headers and bodies straddle chunk boundaries */
async function * chunked (parts: Buffer[]): AsyncGenerator<Buffer> {
  const all = Buffer.concat(parts)
  for (let i = 0; i < all.length; i += 7) yield all.subarray(i, i + 7)
}

describe('build: the output stream from the sandbox', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'skyline-stream-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  const sink = (max = 1000): OutputSink => new OutputSink(join(dir, 'output'), max)

  it('writes each file under its name, hashed, and says the stream was complete', async () => {
    const s = sink()
    const body = Buffer.from('rpm bytes')
    const r = await receiveOutputs(chunked([header('b-1-1.noarch.rpm', 9), body, header('a-1-1.noarch.rpm', 3), Buffer.from('abc'), Buffer.from('E\n')]), s)
    assert.deepEqual(r, { complete: true })
    const outcome = s.outcome()
    assert.ok(outcome.ok)
    assert.deepEqual(outcome.files.map(f => f.name), ['a-1-1.noarch.rpm', 'b-1-1.noarch.rpm'])
    assert.equal(outcome.files[1].sha256, createHash('sha256').update(body).digest('hex'))
    assert.deepEqual(await readFile(join(dir, 'output', 'b-1-1.noarch.rpm')), body)
  })

  it('a stream without its end marker is incomplete', async () => {
    assert.deepEqual(await receiveOutputs(chunked([header('a-1-1.noarch.rpm', 3), Buffer.from('abc')]), sink()), { complete: false })
  })

  for (const [what, parts, message] of [
    ['a path for a name', [header('../x-1-1.noarch.rpm', 1), Buffer.from('x')], /cannot be attested/],
    ['a name with a newline', [header('a\n-1-1.noarch.rpm', 1), Buffer.from('x')], /cannot be attested/],
    ['a source package', [header('a-1-1.src.rpm', 1), Buffer.from('x')], /source package/],
    ['a file longer than its header says', [header('a-1-1.noarch.rpm', 2), Buffer.from('xyz\n')], /malformed output stream/],
    ['a file shorter than its header says', [header('a-1-1.noarch.rpm', 5), Buffer.from('xy')], /ended after 2 of 5 bytes/],
    ['more than maxOutputBytes', [header('a-1-1.noarch.rpm', 1001)], /over 1000 bytes/],
    ['an empty file', [header('a-1-1.noarch.rpm', 0)], /has size 0/],
    ['the same name twice', [header('a-1-1.noarch.rpm', 1), Buffer.from('x'), header('a-1-1.noarch.rpm', 1), Buffer.from('y')], /two output RPMs are named/],
    ['a header without end', [Buffer.from('F 1 ' + 'ab'.repeat(2000))], /longer than/],
    ['data after the end marker', [Buffer.from('E\nmore')], /after the end/]
  ] as Array<[string, Buffer[], RegExp]>) {
    it(`refuses ${what}`, async () => {
      await assert.rejects(receiveOutputs(chunked(parts), sink()), (err: any) => err.name === 'OutputRefusedError' && message.test(err.message))
    })
  }

  it('refuses a name before writing anything', async () => {
    await assert.rejects(receiveOutputs(chunked([header('a b.rpm', 1), Buffer.from('x')]), sink()), /cannot be attested/)
    assert.deepEqual(await readdir(dir), [])
  })
})
