import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { startMesh, tempDir, waitFor, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer, seedSrpm } from '../helpers/announce.ts'
import { makeSignedSrpm, missingTools } from '../helpers/srpm.ts'
import { SKYLINE, collect } from '../helpers/cli.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { attestationLine, verdictLine } from '../../src/cli/commands/watch.ts'
import { checkAttestation, createAttestation } from '../../src/protocols/attestation.ts'
import { officialPhrase, type OfficialClaim } from '../../src/rules/official.ts'
import type { VerdictEvent } from '../../src/services/verdicts.ts'

/** The JSON Schema of docs/protocols/watch-json.md: the documented contract the output is held to */
const SCHEMA = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(readFileSync(resolve(import.meta.dirname, '../../docs/protocols/watch-json.md'), 'utf8'))![1])

/**
 * The errors of `value` against `schema`: the part of JSON Schema that schema uses ($ref to $defs, type,
 * const, enum, pattern, minimum, maximum, required, properties, additionalProperties, items, oneOf).
 */
function schemaErrors (value: any, schema: any, path = '$'): string[] {
  if (schema.$ref !== undefined) return schemaErrors(value, SCHEMA.$defs[schema.$ref.replace('#/$defs/', '')], path)
  if (schema.oneOf !== undefined) {
    const passing = schema.oneOf.filter((s: any) => schemaErrors(value, s, path).length === 0).length
    return passing === 1 ? [] : [`${path}: matches ${passing} of oneOf`]
  }
  const errors: string[] = []
  const type = Array.isArray(value) ? 'array' : value === null ? 'null' : Number.isInteger(value) ? 'integer' : typeof value
  if (schema.type !== undefined && schema.type !== type && !(schema.type === 'number' && type === 'integer')) return [`${path}: ${type}, not ${schema.type}`]
  if ('const' in schema && value !== schema.const) errors.push(`${path}: not ${schema.const}`)
  if (schema.enum !== undefined && !schema.enum.includes(value)) errors.push(`${path}: ${value} not in ${schema.enum}`)
  if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) errors.push(`${path}: ${value} !~ ${schema.pattern}`)
  if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${path}: below ${schema.minimum}`)
  if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${path}: above ${schema.maximum}`)
  if (type === 'array' && schema.items !== undefined) value.forEach((v: any, i: number) => errors.push(...schemaErrors(v, schema.items, `${path}[${i}]`)))
  if (type === 'object') {
    for (const k of schema.required ?? []) if (!(k in value)) errors.push(`${path}.${k}: missing`)
    for (const [k, v] of Object.entries(value)) {
      const sub = schema.properties?.[k] ?? schema.additionalProperties
      if (sub === false) errors.push(`${path}.${k}: not in the schema`)
      else if (sub !== undefined && sub !== true) errors.push(...schemaErrors(v, sub, `${path}.${k}`))
    }
  }
  return errors
}

describe('skyline watch (as a process)', function () {
  this.timeout(180_000)
  let dir: string
  let mesh: TestMesh
  const children: ChildProcess[] = []

  before(function () { if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) !== undefined) this.skip() })
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    await mesh?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('two watches at once, without --data-dir, each print the announcement, every attestation and the verdict, lines the documented schema holds', async () => {
    dir = tempDir()
    const announcer = testAnnouncer()
    writeFileSync(join(dir, 'announcer.pub'), announcer.line + '\n')
    const srpm = await makeSignedSrpm(join(dir, 'srpm'))
    mesh = await startMesh(3, { announcers: [announcer.line], builder: 'rpmbuild', keyring: srpm.keyPath })
    // where a watch may keep files: both empty again once the watches have stopped
    const env = { ...process.env, TMPDIR: join(dir, 'tmp'), XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: '/nonexistent' }
    mkdirSync(env.TMPDIR, { recursive: true })
    mkdirSync(env.XDG_DATA_HOME, { recursive: true })
    const bootstrap = mesh.nodes[0].libp2p.getMultiaddrs()[0].toString()
    const watches = [0, 1].map(() => {
      const child = spawn(SKYLINE, ['watch', '--json', '--bootstrap', bootstrap, '--announcer', join(dir, 'announcer.pub')], { stdio: ['ignore', 'pipe', 'pipe'], env })
      children.push(child)
      const w = { child, stdout: '', lines: (): any[] => w.stdout.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l)) }
      child.stdout.on('data', d => { w.stdout += String(d) })
      return w
    })
    // two more peers: the watches have two identities
    await waitFor('both watchers to join', () => mesh.nodes[0].libp2p.getPeers().length >= 4, 30_000)
    await new Promise(resolve => setTimeout(resolve, 1500))
    const { job } = await seedSrpm(mesh.nodes[1], announcer, { path: srpm.srpmPath, nevra: srpm.nevra }, { replicas: 3, quorum: 2 })
    for (const w of watches) await waitFor('a final verdict line from each watch', () => w.lines().some(l => l.type === 'verdict' && l.final === true), 150_000, 200)
    const results = await Promise.all(watches.map(async w => { w.child.kill('SIGINT'); return collect(w.child, 15_000) }))
    const status = mesh.nodes[0].status().verdicts.find((v: any) => v.job === job)
    for (const [i, w] of watches.entries()) {
      assert.equal(results[i].code, 0)
      const all = w.lines()
      for (const l of all) assert.deepEqual(schemaErrors(l, SCHEMA), [], JSON.stringify(l))
      assert.ok(all.some(l => l.type === 'announcement' && l.job === job && l.nevra === srpm.nevra))
      const attestations = all.filter(l => l.type === 'attestation' && l.job === job)
      assert.equal(attestations.length, 3)
      const verdict = all.filter(l => l.type === 'verdict' && l.job === job).at(-1)
      assert.equal(verdict.verdict, 'agreed')
      assert.equal(verdict.hash, attestations[0].hash)
      // the same tally, named the same, as the node's /status
      const { type, replicas, quorum, ...tally } = verdict
      assert.deepEqual({ type, replicas, quorum }, { type: 'verdict', replicas: 3, quorum: 2 })
      assert.deepEqual(tally, status)
    }
    assert.deepEqual(readdirSync(env.TMPDIR), [], 'the temporary data dirs are removed')
    assert.deepEqual(readdirSync(env.XDG_DATA_HOME), [], 'nothing is kept without --data-dir')
  })

  it('without a trusted announcer it says so and exits 2', async () => {
    const r = await collect(spawn(SKYLINE, ['watch', '--bootstrap', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, XDG_CONFIG_HOME: '/nonexistent' } }), 15_000)
    assert.equal(r.code, 2)
    assert.match(r.stderr, /no trusted announcer/)
  })
})

describe('skyline watch: the comparison with the official build in its lines', () => {
  const peer = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
  const hash = 'a'.repeat(64)
  const claim: OfficialClaim = { reproduces: 'partly', differences: [{ name: 'hello-2.12-1.fc42.x86_64.rpm', fields: ['BUILDTIME', 'BUILDHOST'] }] }
  const verdict: VerdictEvent = {
    job: 'b'.repeat(64), nevra: 'hello-2.12-1.fc42.src', replicas: 3, quorum: 2, verdict: 'agreed', hash, agreeing: [peer], dissenters: [], failedBuilders: [],
    equivocators: [], missing: [], counts: { [hash]: 1 }, final: true, official: { ...claim, claimedBy: 1, of: 1 }
  }

  it('a verdict line carries `official` within the documented schema, and the human line says it', () => {
    const line = verdictLine(verdict)
    assert.deepEqual(schemaErrors(line, SCHEMA), [], JSON.stringify(line))
    assert.deepEqual(line.official, { ...claim, claimedBy: 1, of: 1 })
    assert.equal(officialPhrase(verdict), ", reproduces Koji's build: partly (hello-2.12-1.fc42.x86_64.rpm: BUILDTIME, BUILDHOST)")
    assert.equal(officialPhrase({ official: { reproduces: 'yes', differences: [] } }), ", reproduces Koji's build: yes")
    // without a comparison, no key and no phrase: the line is what it was
    assert.equal('official' in verdictLine({ ...verdict, official: undefined }), false)
    assert.equal(officialPhrase({ ...verdict, official: undefined }), '')
    // a claim outside the schema (an unknown summary) is what the schema catches
    assert.notDeepEqual(schemaErrors({ ...line, official: { reproduces: 'maybe', differences: [] } }, SCHEMA), [])
  })

  it('an attestation line carries its builder\'s claim within the schema', async () => {
    const key = await generateKeyPair('Ed25519')
    const a = checkAttestation(createAttestation({ job: 'c'.repeat(64), status: 'ok', files: [{ name: 'hello-2.12-1.fc42.x86_64.rpm', size: 10, sha256: hash }], official: claim }, key), Date.now())
    const line = attestationLine(a, 'hello-2.12-1.fc42.src')
    assert.deepEqual(schemaErrors(line, SCHEMA), [], JSON.stringify(line))
    assert.deepEqual(line.official, claim)
  })
})
