import assert from 'node:assert/strict'
import { encodeManifest, ManifestError, parseManifest, MAX_MANIFEST_BYTES, MAX_OFFICIAL_TAGS, type BuildrootManifest } from '../../src/rules/buildroot.ts'

const pkg = (name: string, over = {}): BuildrootManifest['packages'][number] => ({
  name, epoch: null, version: '1.0', release: '1.fc42', arch: 'x86_64', sigmd5: 'a'.repeat(32), size: 100, sha256: 'b'.repeat(64), ...over
})

describe('buildroot manifest format', () => {
  it('round-trips canonically, packages sorted by NEVRA whatever the input order', () => {
    const m: BuildrootManifest = { packages: [pkg('zlib'), pkg('bash', { epoch: 1 })], macros: { vendor: 'Fedora Project', _host: 'x86_64-redhat-linux-gnu' }, tools: { rpm: '4.20.1' }, official: [{ name: 'hello-1-1.x86_64.rpm', sha256: 'c'.repeat(64) }] }
    const bytes = encodeManifest(m)
    const back = parseManifest(bytes)
    assert.deepEqual(back.packages.map(p => p.name), ['bash', 'zlib'])
    assert.deepEqual(encodeManifest(back), bytes)
  })

  for (const [what, mutate, reason] of [
    ['a package twice', (j: any) => { j.packages.push(j.packages[0]) }, /listed twice|canonical/],
    ['a bad sigmd5', (j: any) => { j.packages[0].sigmd5 = 'x' }, /sigmd5/],
    ['a macro with a newline', (j: any) => { j.macros.vendor = 'a\nb' }, /macros/],
    ['no packages', (j: any) => { j.packages = [] }, /non-empty/],
    ['another format', (j: any) => { j.format = 'skyline-buildroot/2' }, /format/],
    ['keys out of order', (j: any) => { const t = j.tools; delete j.tools; j.tools = t; const m = j.macros; delete j.macros; j.macros = m }, /canonical/]
  ] as const) {
    it(`refuses ${what}`, () => {
      const j = JSON.parse(new TextDecoder().decode(encodeManifest({ packages: [pkg('bash')], macros: { vendor: 'V' }, tools: {} })))
      mutate(j)
      assert.throws(() => parseManifest(new TextEncoder().encode(JSON.stringify(j))), (err: Error) => err instanceof ManifestError && reason.test(err.message))
    })
  }

  it('carries official per-tag digests canonically (ascending tag numbers), and entries without them as before', () => {
    const tags = { 1007: 'e'.repeat(32), 1006: 'd'.repeat(32), 1000: 'f'.repeat(32) }
    const m: BuildrootManifest = { packages: [pkg('bash')], macros: {}, tools: {}, official: [{ name: 'b-1-1.noarch.rpm', sha256: 'c'.repeat(64), tags }, { name: 'a-1-1.noarch.rpm', sha256: 'c'.repeat(64) }] }
    const bytes = encodeManifest(m)
    assert.match(new TextDecoder().decode(bytes), /"official":\[\{"name":"a-1-1.noarch.rpm","sha256":"c{64}"\},\{"name":"b-1-1.noarch.rpm","sha256":"c{64}","tags":\{"1000":"f{32}","1006":"d{32}","1007":"e{32}"\}\}\]\}$/)
    const back = parseManifest(bytes)
    assert.deepEqual(back.official?.[1].tags, tags)
    assert.equal(back.official?.[0].tags, undefined)
  })

  for (const [what, tags, reason] of [
    ['a tag number with a leading zero', { '01000': 'a'.repeat(32) }, /bad tags of official file 0 name/],
    ['a tag that is no number', { NAME: 'a'.repeat(32) }, /bad tags of official file 0 name/],
    ['a digest of another length', { 1000: 'a'.repeat(64) }, /bad value of tags of official file 0/],
    ['too many tags', Object.fromEntries(Array.from({ length: MAX_OFFICIAL_TAGS + 1 }, (_, i) => [String(1000 + i), 'a'.repeat(32)])), /more than 512 tags/]
  ] as const) {
    it(`refuses official tags with ${what}`, () => {
      const j = JSON.parse(new TextDecoder().decode(encodeManifest({ packages: [pkg('bash')], macros: {}, tools: {}, official: [{ name: 'a-1-1.noarch.rpm', sha256: 'c'.repeat(64) }] })))
      j.official[0].tags = tags
      assert.throws(() => parseManifest(new TextEncoder().encode(JSON.stringify(j))), (err: Error) => err instanceof ManifestError && reason.test(err.message))
    })
  }

  it('refuses a manifest over the size limit before parsing it', () => {
    assert.throws(() => parseManifest(new Uint8Array(MAX_MANIFEST_BYTES + 1)), /over the limit/)
  })
})
