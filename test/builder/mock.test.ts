/**
 * The mock backend's command line only: mock is not installable on Debian, so no mock build runs here.
 * On a Fedora host with mock, `detectBuilder('mock')` returns a MockBuilder that runs exactly this command.
 */
import assert from 'node:assert/strict'
import { MockBuilder, mockArgs } from '../../src/builder/index.ts'
import { mockHasHermetic, rpmVersionFromInstalled } from '../../src/builder/mock.ts'

describe('build: mock arguments (argument construction only; mock is not run here)', () => {
  it('rebuilds with the config, result dir, isolation and the reproducibility defines', () => {
    assert.deepEqual(mockArgs('/data/blobs/foo-1.0-1.src.rpm', { config: 'fedora-41-x86_64', resultDir: '/data/builds/j1/result', isolation: 'nspawn' }), [
      '--rebuild', '/data/blobs/foo-1.0-1.src.rpm',
      '-r', 'fedora-41-x86_64',
      '--resultdir', '/data/builds/j1/result',
      '--isolation=nspawn',
      '--define', 'source_date_epoch_from_changelog 1',
      '--define', 'use_source_date_epoch_as_buildtime 1',
      '--define', 'clamp_mtime_to_source_date_epoch 1',
      '--define', '_buildhost reproducible',
      '--define', '_binary_payload w19.zstdio'
    ])
    const simple = mockArgs('foo.src.rpm', { config: '/etc/mock/fedora-rawhide-aarch64.cfg', resultDir: 'r', isolation: 'simple', binaryPayload: 'w9.gzdio' })
    assert.ok(simple.includes('--isolation=simple'))
    assert.ok(simple.includes('_binary_payload w9.gzdio'))
    assert.ok(simple[1].startsWith('/'), 'paths are made absolute')
  })

  it('refuses configs and isolations that could smuggle options', () => {
    assert.throws(() => mockArgs('a.src.rpm', { config: '--enable-network', resultDir: 'r', isolation: 'nspawn' }), { name: 'BuildSetupError' })
    assert.throws(() => mockArgs('a.src.rpm', { config: 'fedora 41', resultDir: 'r', isolation: 'nspawn' }), { name: 'BuildSetupError' })
    assert.throws(() => mockArgs('a.src.rpm', { config: 'default', resultDir: 'r', isolation: 'chroot' as any }), { name: 'BuildSetupError' })
  })

  it('takes a generated config or a hermetic lockfile, never both, and then no --define', () => {
    const hermetic = mockArgs('/s/a.src.rpm', { hermetic: { lockfile: '/w/buildroot_lock.json', repo: '/w/repo' }, resultDir: '/w/result', isolation: 'nspawn', macrosInConfig: true })
    assert.deepEqual(hermetic, ['--rebuild', '/s/a.src.rpm', '--hermetic-build', '/w/buildroot_lock.json', '/w/repo', '--resultdir', '/w/result', '--isolation=nspawn'])
    assert.deepEqual(mockArgs('/s/a.src.rpm', { config: '/w/mock.cfg', resultDir: '/w/result', isolation: 'simple', macrosInConfig: true }),
      ['--rebuild', '/s/a.src.rpm', '-r', '/w/mock.cfg', '--resultdir', '/w/result', '--isolation=simple'])
    assert.throws(() => mockArgs('a.src.rpm', { config: 'x', hermetic: { lockfile: '/l', repo: '/r' }, resultDir: 'r', isolation: 'nspawn' }), { name: 'BuildSetupError' })
    assert.throws(() => mockArgs('a.src.rpm', { resultDir: 'r', isolation: 'nspawn' }), { name: 'BuildSetupError' })
    assert.throws(() => mockArgs('a.src.rpm', { hermetic: { lockfile: '--x', repo: '/r' }, resultDir: 'r', isolation: 'nspawn' }), { name: 'BuildSetupError' })
    assert.equal(mockHasHermetic('5.7'), true)
    assert.equal(mockHasHermetic('6.7'), true)
    assert.equal(mockHasHermetic('5.6.1'), false)
    assert.equal(mockHasHermetic(undefined), false)
  })

  it('runs mock under nice/ionice/chrt', () => {
    const b = new MockBuilder({ mockConfig: 'fedora-41-x86_64' }, {
      mock: '/usr/bin/mock',
      hostRpmVersion: '4.19.1',
      priority: { prefix: ['/usr/bin/nice', '-n', '19', '/usr/bin/ionice', '-c', '3'], report: { nice: 19, ioClass: 'idle' }, warnings: [] }
    })
    const argv = b.commandLine('/x/foo.src.rpm', '/w')
    assert.deepEqual(argv.slice(0, 7), ['/usr/bin/nice', '-n', '19', '/usr/bin/ionice', '-c', '3', '/usr/bin/mock'])
    assert.ok(argv.includes('--resultdir') && argv[argv.indexOf('--resultdir') + 1] === '/w/result')
    assert.ok(argv.includes('--isolation=nspawn'))
    assert.equal(b.kind, 'mock')
  })

  it('reads the chroot rpm version from installed_pkgs.log', () => {
    assert.equal(rpmVersionFromInstalled('bash-5.2.26-3.fc40.x86_64 1700000000\nrpm-4.19.1.1-1.fc40.x86_64 1700000000\nrpm-build-4.19.1.1-1.fc40.x86_64 1\n'), '4.19.1.1')
    assert.equal(rpmVersionFromInstalled('rpm-build-4.19.1.1-1.fc40.x86_64\n'), undefined)
  })
})
