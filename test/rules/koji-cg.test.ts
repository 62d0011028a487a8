import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { kojiCgMetadata, parseSrpmNevra, KojiCgError, type KojiCgInput } from '../../src/rules/koji-cg.ts'
import type { BuildrootManifest } from '../../src/rules/buildroot.ts'
import { cgMetadataProblems, KOJI_FIXTURES } from '../helpers/koji-cg.ts'

const manifest: BuildrootManifest = {
  packages: [
    { name: 'bash', epoch: null, version: '5.2.37', release: '1.fc42', arch: 'x86_64', sigmd5: 'a'.repeat(32), size: 1912345, sha256: 'b'.repeat(64) },
    { name: 'shadow-utils', epoch: 2, version: '4.17.0', release: '3.fc42', arch: 'x86_64', sigmd5: 'c'.repeat(32), size: 1200000, sha256: 'd'.repeat(64) }
  ],
  macros: { vendor: 'Fedora Project' },
  tools: { rpm: '4.20.1', mock: '6.1' }
}

const env = { builder: 'rpmbuild', rpmVersion: '4.20.1', target: 'x86_64-redhat-linux-gnu', binaryPayload: 'w19.zstdio', sandbox: 'bwrap', buildroot: 'e'.repeat(64) }

function input (over: Partial<KojiCgInput> = {}): KojiCgInput {
  return {
    nevra: 'hello-1:2.12-1.fc42.src',
    srpmSha256: 'f'.repeat(64),
    job: '1'.repeat(64),
    announcement: '2'.repeat(64),
    buildHash: '3'.repeat(64),
    files: [
      { name: 'hello-2.12-1.fc42.x86_64.rpm', size: 84000, sha256: '4'.repeat(64) },
      { name: 'hello-debuginfo-2.12-1.fc42.x86_64.rpm', size: 120000, sha256: '5'.repeat(64) }
    ],
    attestations: [
      { id: '7'.repeat(64), builder: '12D3KooWB', time: 1_760_000_060_500, durationMs: 50_000, environment: env },
      { id: '6'.repeat(64), builder: '12D3KooWA', time: 1_760_000_061_000, durationMs: 61_000, environment: env }
    ],
    manifest,
    manifestSha256: 'e'.repeat(64),
    generator: { name: 'skyline', version: '0.1.0' },
    ...over
  }
}

describe('Koji content-generator metadata', () => {
  it('passes the schema of Koji\'s documented format and the importer\'s cross-field checks', () => {
    assert.deepEqual(cgMetadataProblems(kojiCgMetadata(input())), [])
  })

  it('the schema accepts Koji\'s own documented example (it is not stricter than the format)', () => {
    assert.deepEqual(cgMetadataProblems(JSON.parse(readFileSync(join(KOJI_FIXTURES, 'cg-metadata-example.json'), 'utf8'))), [])
  })

  // the validator is not vacuous: a metadata.json missing any field Koji requires is refused
  const required: Array<[string, (m: any) => void]> = [
    ['metadata_version', m => { delete m.metadata_version }],
    ['build', m => { delete m.build }],
    ['buildroots', m => { delete m.buildroots }],
    ['output', m => { delete m.output }],
    ...['name', 'version', 'release', 'source', 'start_time', 'end_time', 'extra'].map((k): [string, (m: any) => void] => [`build.${k}`, m => { delete m.build[k] }]),
    ...['id', 'host', 'content_generator', 'container', 'tools', 'components', 'extra'].map((k): [string, (m: any) => void] => [`buildroots[0].${k}`, m => { delete m.buildroots[0][k] }]),
    ['buildroots[0].host.os', m => { delete m.buildroots[0].host.os }],
    ['buildroots[0].content_generator.version', m => { delete m.buildroots[0].content_generator.version }],
    ['buildroots[0].container.arch', m => { delete m.buildroots[0].container.arch }],
    ...['name', 'version', 'release', 'epoch', 'arch', 'sigmd5', 'signature'].map((k): [string, (m: any) => void] => [`buildroots[0].components[0].${k}`, m => { delete m.buildroots[0].components[0][k] }]),
    ...['buildroot_id', 'filename', 'filesize', 'checksum', 'checksum_type', 'type'].map((k): [string, (m: any) => void] => [`output[0].${k}`, m => { delete m.output[0][k] }])
  ]
  for (const [field, drop] of required) {
    it(`is refused without ${field}`, () => {
      const m = JSON.parse(JSON.stringify(kojiCgMetadata(input())))
      drop(m)
      assert.notDeepEqual(cgMetadataProblems(m), [])
    })
  }

  it('is refused with what the importer refuses: metadata_version 1, an unused buildroot, an rpm named otherwise, an unknown checksum type', () => {
    const mutations: Array<(m: any) => void> = [
      m => { m.metadata_version = 1 },
      m => { m.buildroots.push({ ...m.buildroots[0], id: 2 }) },
      m => { m.output[0].buildroot_id = 9 },
      m => { m.output[0].filename = 'hello.rpm' },
      m => { m.output[0].checksum_type = 'crc32' },
      m => { m.buildroots[0].components[0].id = 5 }
    ]
    for (const mutate of mutations) {
      const m = JSON.parse(JSON.stringify(kojiCgMetadata(input())))
      mutate(m)
      assert.notDeepEqual(cgMetadataProblems(m), [], mutate.toString())
    }
  })

  it('the build is the SRPM\'s NEVR, timed from the earliest start to the last attestation', () => {
    const m = kojiCgMetadata(input())
    assert.deepEqual([m.build.name, m.build.epoch, m.build.version, m.build.release], ['hello', 1, '2.12', '1.fc42'])
    assert.equal(m.build.start_time, 1_760_000_000)
    assert.equal(m.build.end_time, 1_760_000_061)
    assert.deepEqual(m.build.extra.typeinfo as object, { rpm: {} })
    assert.deepEqual((m.build.extra.skyline as any).agreeing, ['12D3KooWA', '12D3KooWB'])
    assert.equal((m.build.extra.skyline as any).reproduces_koji, undefined)
    const official = { reproduces: 'partly' as const, differences: [{ name: 'hello-2.12-1.fc42.x86_64.rpm', fields: ['BUILDTIME'] }], claimedBy: 2, of: 2 }
    assert.deepEqual((kojiCgMetadata(input({ official })).build.extra.skyline as any).reproduces_koji, official)
  })

  it('the buildroot lists every manifest package as an rpm component, and the tools once each', () => {
    const br = kojiCgMetadata(input()).buildroots[0]
    assert.deepEqual(br.components.map(c => [c.type, c.name, c.epoch, c.version, c.release, c.arch, c.sigmd5]), [
      ['rpm', 'bash', null, '5.2.37', '1.fc42', 'x86_64', 'a'.repeat(32)],
      ['rpm', 'shadow-utils', 2, '4.17.0', '3.fc42', 'x86_64', 'c'.repeat(32)]
    ])
    assert.deepEqual(br.tools, [{ name: 'mock', version: '6.1' }, { name: 'rpm', version: '4.20.1' }])
    assert.deepEqual(br.host, { os: 'linux', arch: 'x86_64' })
    assert.deepEqual(br.container, { type: 'bwrap', arch: 'x86_64' })
    assert.equal((br.extra.skyline as any).manifest_sha256, 'e'.repeat(64))
  })

  it('outputs carry the signed sha256 and size, and the arch of their names', () => {
    const out = kojiCgMetadata(input()).output
    assert.deepEqual(out.map(o => [o.filename, o.filesize, o.arch, o.checksum_type, o.checksum, o.type, o.buildroot_id]), [
      ['hello-2.12-1.fc42.x86_64.rpm', 84000, 'x86_64', 'sha256', '4'.repeat(64), 'rpm', 1],
      ['hello-debuginfo-2.12-1.fc42.x86_64.rpm', 120000, 'x86_64', 'sha256', '5'.repeat(64), 'rpm', 1]
    ])
  })

  it('builders with different rpm versions (a manifest without tools.rpm) are listed under one tool entry', () => {
    const other = { ...env, rpmVersion: '4.18.2' }
    const m = kojiCgMetadata(input({ manifest: { ...manifest, tools: {} }, attestations: [{ ...input().attestations[0], environment: other }, input().attestations[1]] }))
    assert.deepEqual(m.buildroots[0].tools, [{ name: 'rpm', version: '4.18.2, 4.20.1' }])
    assert.deepEqual(cgMetadataProblems(m), [])
  })

  it('refuses what Koji could not import, with the reason', () => {
    assert.throws(() => kojiCgMetadata(input({ attestations: [] })), (e: Error) => e instanceof KojiCgError && /no agreeing attestation/.test(e.message))
    assert.throws(() => kojiCgMetadata(input({ files: [] })), /no output files/)
    assert.throws(() => kojiCgMetadata(input({ nevra: 'hello.src' })), /not an SRPM NEVRA/)
    assert.deepEqual(parseSrpmNevra('hello-skyline-1.0-1.src'), { name: 'hello-skyline', epoch: null, version: '1.0', release: '1' })
  })
})
