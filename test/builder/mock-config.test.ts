/**
 * The mock config and lockfile of a job with a buildroot manifest (src/builder/mock-config.ts), for a
 * manifest of packages the test builds with rpmbuild. mock is not installable on Debian: the config is
 * read the way mock reads it (Python exec, then Jinja2; test/helpers/mock-config.ts), its keys are checked
 * against mock's documented ones, its repository is used with dnf as mock uses it for a chroot without a
 * bootstrap (`dnf --installroot … install *`), and, where mock exists, mock itself reads it.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { compareInstalled, makeJobRepository, parseInstalledLog } from '../../src/builder/mock-buildroot.ts'
import {
  LEGAL_HOST_ARCHES, MOCK_REPO_ID, mockConfigEntries, mockConfigText, mockDnfConf, mockLockfile, pythonString, releaseverOf, targetArchOf
} from '../../src/builder/mock-config.ts'
import { REPRODUCIBLE_DEFINES } from '../../src/builder/constants.ts'
import { findTool } from '../../src/builder/sandbox.ts'
import { packageNevra, type BuildrootManifest, type BuildrootPackage } from '../../src/rules/buildroot.ts'
import { buildrootInput, makeBuildrootPackage } from '../helpers/buildroot.ts'
import { documentedKeys, lockfileSchema, pythonMissing, readMockConfig } from '../helpers/mock-config.ts'
import { missingTools } from '../helpers/srpm.ts'
import type { BuildrootInput } from '../../src/builder/index.ts'

const BASE = [...REPRODUCIBLE_DEFINES, ['_binary_payload', 'w19.zstdio'] as const]

/** A package of a made-up manifest (no file behind it) */
function pkg (name: string, version: string, arch = 'x86_64', release = '1.fc42', epoch: number | null = null): BuildrootPackage {
  return { name, epoch, version, release, arch, sigmd5: '0'.repeat(32), size: 1000, sha256: '1'.repeat(64) }
}

/** Paths of the string values (after Python read them) that hold `{{`, `{%` or `{#` */
function jinjaDelimited (v: unknown, path: string[] = []): string[] {
  if (typeof v === 'string') return /\{[{%#]/.test(v) ? [path.join('.')] : []
  if (typeof v !== 'object' || v === null) return []
  return Object.entries(v).flatMap(([k, x]) => jinjaDelimited(x, [...path, k]))
}

describe('build: mock config of a job with a buildroot manifest', function () {
  this.timeout(120_000)
  let dir: string
  let input: BuildrootInput
  let repoDir: string
  let cfg: string

  before(async function () {
    const missing = missingTools(['rpmbuild', 'createrepo_c']) ?? pythonMissing()
    if (missing !== undefined) {
      console.info(`      skipped: ${missing}`)
      this.skip()
    }
    dir = await mkdtemp(join(tmpdir(), 'skyline-mock-config-'))
    const base = await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-base', '1.0')
    const tool = await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-tool', '2.0', 'skyline-base')
    input = await buildrootInput([base, tool], { macros: { vendor: 'Fedora Project', _buildhost: 'buildhw-x86-01.iad2.fedoraproject.org' } })
    repoDir = join(dir, 'repo')
    await makeJobRepository('createrepo_c', input, repoDir)
    cfg = join(dir, 'mock.cfg')
    await writeFile(cfg, mockConfigText({ manifest: input.manifest, repoDir, root: 'skyline-0123456789abcdef', baseMacros: BASE }))
  })
  after(async () => { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) })

  it('sets only config_opts keys mock documents (site-defaults.cfg)', () => {
    const documented = documentedKeys()
    const entries = mockConfigEntries({ manifest: input.manifest, repoDir, root: 'r', baseMacros: BASE })
    for (const [path] of entries) {
      const key = path[0] === 'plugin_conf' ? `plugin_conf.${path[1]}` : path[0]
      assert.ok(documented.has(key), `${key} is not a documented config_opts key`)
    }
    // and the file sets nothing else
    const { config_opts: opts } = readMockConfig(cfg)
    for (const key of Object.keys(opts)) assert.ok(documented.has(key), `${key} is not a documented config_opts key`)
    for (const key of Object.keys(opts.plugin_conf)) assert.ok(documented.has(`plugin_conf.${key}`), `plugin_conf.${key}`)
  })

  it('is what mock expects: its own chroot, the host arch, install * from the one repository, no bootstrap, no network', () => {
    const { config_opts: opts, jinja_changed: jinja } = readMockConfig(cfg)
    assert.equal(opts.root, 'skyline-0123456789abcdef')
    assert.equal(opts.target_arch, targetArchOf(input.manifest)) // noarch packages only: the host's
    assert.deepEqual(opts.legal_host_arches, LEGAL_HOST_ARCHES[opts.target_arch])
    assert.equal(opts.chroot_setup_cmd, 'install *')
    assert.equal(opts.package_manager, 'dnf5')
    for (const off of ['use_bootstrap', 'use_bootstrap_image', 'rpmbuild_networking', 'update_before_build']) assert.equal(opts[off], false, off)
    assert.equal(opts.plugin_conf.root_cache_enable, false)
    assert.equal(opts.plugin_conf.yum_cache_enable, false)
    assert.equal(opts.plugin_conf.package_state_enable, true)
    assert.equal(opts.plugin_conf.package_state_opts.installed_pkgs, true)
    assert.equal(opts.releasever, undefined, 'no fedora-release and no .fcNN release: no releasever')
    // dnf.conf: [main] and exactly one repository, ours, by file://, gpgcheck off, best=1, no reposdir
    const sections = [...opts['dnf.conf'].matchAll(/^\[([^\]]+)\]$/gm)].map((m: RegExpMatchArray) => m[1])
    assert.deepEqual(sections, ['main', MOCK_REPO_ID])
    const conf = opts['dnf.conf'] as string
    assert.match(conf, new RegExp(`^baseurl=file://${repoDir}$`, 'm'))
    assert.equal(conf.match(/^baseurl=/gm)?.length, 1)
    assert.doesNotMatch(conf, /metalink|mirrorlist/)
    for (const line of ['reposdir=/dev/null', 'gpgcheck=0', 'best=1', 'assumeyes=1', 'skip_if_unavailable=False']) assert.match(conf, new RegExp(`^${line}$`, 'm'))
    assert.doesNotMatch(conf, /module_platform_id/)
    // mock renders every string as a Jinja2 template: no value holds a Jinja2 delimiter, so rendering
    // leaves each as it is (and where jinja2 is installed, rendering them shows it)
    assert.deepEqual(jinjaDelimited(opts), [])
    if (jinja !== null) assert.deepEqual(jinja, [])
  })

  it('carries the reproducibility macros and the manifest\'s, the manifest\'s winning', () => {
    const { config_opts: opts } = readMockConfig(cfg)
    assert.equal(opts.macros['%vendor'], 'Fedora Project')
    assert.equal(opts.macros['%_buildhost'], 'buildhw-x86-01.iad2.fedoraproject.org', 'the manifest\'s _buildhost wins over "reproducible"')
    assert.equal(opts.macros['%source_date_epoch_from_changelog'], '1')
    assert.equal(opts.macros['%_binary_payload'], 'w19.zstdio')
  })

  it('installs exactly the manifest\'s packages with dnf from that repository, as mock does without a bootstrap', async function () {
    const dnf = findTool('dnf')
    if (dnf === undefined || process.getuid?.() !== 0) {
      console.info(`      skipped: ${dnf === undefined ? 'dnf not found' : 'dnf --installroot needs root'}`)
      this.skip()
    }
    // a repository with a newer skyline-base in the chroot's own repos.d is not read: reposdir=/dev/null
    await makeBuildrootPackage(join(dir, 'newer'), 'skyline-base', '1.1')
    execFileSync('createrepo_c', ['--quiet', join(dir, 'newer')])
    const { config_opts: opts } = readMockConfig(cfg)
    const root = join(dir, 'chroot')
    const conf = join(dir, 'dnf.conf')
    await writeFile(conf, opts['dnf.conf'])
    const exact = mockConfigEntries({ manifest: input.manifest, repoDir, root: 'r', install: 'exact' }).find(([p]) => p[0] === 'chroot_setup_cmd')?.[1] as string
    assert.deepEqual(exact.split(' ').slice(1).sort(), input.manifest.packages.map(packageNevra).sort())
    for (const setup of [opts.chroot_setup_cmd as string, exact]) {
      await rm(root, { recursive: true, force: true })
      await mkdir(join(root, 'etc', 'yum.repos.d'), { recursive: true })
      await writeFile(join(root, 'etc', 'yum.repos.d', 'newer.repo'), `[newer]\nbaseurl=file://${join(dir, 'newer')}\ngpgcheck=0\n`)
      // mock's invocation: --installroot, the chroot's config, --releasever only when the config sets one
      const releasever = opts.releasever !== undefined ? ['--releasever', opts.releasever] : []
      execFileSync(dnf, ['--installroot', root, '-c', conf, ...releasever, ...setup.split(' ')], { stdio: 'pipe' })
      // what mock's package_state plugin writes into installed_pkgs.log
      const log = execFileSync('rpm', ['-qa', '--root', root, '--qf', '%{nevra} %{buildtime} %{size} installed\n'], { encoding: 'utf8' })
      assert.equal(compareInstalled(input.manifest, parseInstalledLog(log)), undefined, `${setup}: ${log}`)
    }
  })

  it('mock itself reads the config (where mock exists)', function () {
    const mock = findTool('mock')
    if (mock === undefined) {
      console.info('      skipped: mock is not installed (it is not packaged for Debian); checked on Fedora hosts')
      this.skip()
    }
    const out = execFileSync(mock, ['-r', cfg, '--debug-config'], { encoding: 'utf8' })
    assert.match(out, /config_opts\['root'\] = 'skyline-0123456789abcdef'/)
    assert.match(out, /config_opts\['chroot_setup_cmd'\] = 'install \*'/)
    assert.match(out, /config_opts\['use_bootstrap'\] = False/)
  })
})

describe('build: mock config values cannot escape', () => {
  const manifest = (macros: Record<string, string>): BuildrootManifest => ({ packages: [pkg('bash', '5.2')], macros, tools: {} })
  const opts = (m: BuildrootManifest): Parameters<typeof mockConfigText>[0] => ({ manifest: m, repoDir: '/var/lib/skyline/builds/j1/repo', root: 'skyline-j1' })
  let dir: string
  before(async function () {
    if (pythonMissing() !== undefined) this.skip()
    dir = await mkdtemp(join(tmpdir(), 'skyline-mock-hostile-'))
  })
  after(async () => { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) })

  it('a hostile macro value stays one string: quotes, backslashes, triple quotes, Python code, unicode', async () => {
    const sentinel = join(dir, 'pwned')
    const hostile: Record<string, string> = {
      a: `x'; open(${JSON.stringify(sentinel)}, 'w'); y='`,
      b: `x"""; open(${JSON.stringify(sentinel)}, 'w'); """`,
      c: 'back\\slash\\\' \\x27 \\u0027',
      d: '%{lua: os.execute("true")} ü € 𝄞 \t tab',
      e: '\'] = 1\nconfig_opts[\'use_bootstrap\'] = True #'.replace('\n', ' ')
    }
    const path = join(dir, 'hostile.cfg')
    await writeFile(path, mockConfigText(opts(manifest(hostile))))
    const { config_opts: read } = readMockConfig(path)
    for (const [k, v] of Object.entries(hostile)) assert.equal(read.macros[`%${k}`], v, k)
    assert.equal(read.use_bootstrap, false)
    assert.equal(existsSync(sentinel), false, 'no code of a macro value ran')
  })

  it('every string round-trips through Python exactly', async () => {
    const samples: string[] = []
    for (let i = 0; i < 300; i++) {
      let s = ''
      for (let j = 0; j < 12; j++) {
        const r = Math.random()
        s += String.fromCodePoint(r < 0.5 ? 1 + Math.floor(Math.random() * 127) : r < 0.8 ? 128 + Math.floor(Math.random() * 0xd000) : 0x10000 + Math.floor(Math.random() * 0xfff0))
      }
      samples.push(s)
    }
    const path = join(dir, 'roundtrip.cfg')
    await writeFile(path, samples.map((s, i) => `config_opts['macros']['%m${i}'] = ${pythonString(s)}\n`).join(''))
    const { config_opts: read } = readMockConfig(path)
    samples.forEach((s, i) => assert.equal(read.macros[`%m${i}`], s, JSON.stringify(s)))
    for (const s of samples) assert.doesNotMatch(pythonString(s).slice(1, -1), /['"\n\r\\](?![xuUn])/)
  })

  it('refuses what mock would expand or split: Jinja2, line breaks, an empty value, a bad name, a bad path', () => {
    for (const value of ['{{ root }}', 'a{% if 1 %}b{% endif %}', '{# c #}', 'two\nlines', 'cr\r', 'nul\0', '']) {
      assert.throws(() => mockConfigText(opts(manifest({ vendor: value }))), { name: 'BuildrootUnavailableError' }, JSON.stringify(value))
    }
    assert.throws(() => mockConfigText(opts(manifest({ 'a b': 'x' }))), { name: 'BuildrootUnavailableError' })
    assert.throws(() => mockConfigText(opts(manifest({ "x']=1#": 'x' }))), { name: 'BuildrootUnavailableError' })
    assert.throws(() => mockConfigText({ ...opts(manifest({})), repoDir: '/tmp/a b' }), { name: 'BuildrootUnavailableError' })
    assert.throws(() => mockConfigText({ ...opts(manifest({})), repoDir: '/tmp/{{root}}' }), { name: 'BuildrootUnavailableError' })
    assert.throws(() => mockConfigText({ ...opts(manifest({})), root: "r'" }), { name: 'BuildrootUnavailableError' })
    assert.throws(() => mockConfigText({ ...opts(manifest({})), targetArch: 'sparc' }), /no mock target for arch/)
    // a package whose name could split the install command (only a manifest that skipped parsing has one)
    assert.throws(() => mockConfigText({ ...opts({ packages: [pkg('a b', '1')], macros: {}, tools: {} }), install: 'exact' }), { name: 'BuildrootUnavailableError' })
    // %{?dist} and other single braces are fine
    assert.doesNotThrow(() => mockConfigText(opts(manifest({ dist: '%{?fedora:.fc42}' }))))
  })

  it('derives the arch and releasever from the manifest', () => {
    const m: BuildrootManifest = { packages: [pkg('bash', '5.2'), pkg('glibc', '2.40', 'i686', '1.fc41'), pkg('x', '1', 'noarch', '1.fc41'), pkg('y', '1', 'x86_64', '2.fc41')], macros: {}, tools: {} }
    assert.equal(targetArchOf(m), 'x86_64')
    assert.equal(releaseverOf(m), '41')
    assert.equal(releaseverOf({ ...m, packages: [...m.packages, pkg('fedora-release-common', '42', 'noarch', '1')] }), '42')
    assert.equal(targetArchOf({ ...m, packages: [pkg('x', '1', 'noarch')] }, 'arm64'), 'aarch64')
    assert.match(mockDnfConf('/r'), /^\[main\]/)
  })
})

describe('build: mock lockfile of a job with a buildroot manifest', () => {
  const schema = lockfileSchema()
  const bootstrap = { image: 'registry.fedoraproject.org/fedora:42', pullDigest: `sha256:${'a'.repeat(64)}`, imageDigest: `sha256:${'b'.repeat(64)}`, architecture: 'amd64', id: 'c'.repeat(64) }
  const manifest: BuildrootManifest = { packages: [pkg('bash', '5.2'), pkg('perl-libs', '5.40', 'x86_64', '1.fc42', 4)], macros: { vendor: 'Fedora Project' }, tools: {} }

  /** Checks an object against one part of the fixture: required keys, allowed keys, JSON types */
  function conforms (obj: Record<string, unknown>, part: { required: string[], allowed?: string[], types?: Record<string, string[]> }, where: string): void {
    for (const k of part.required) assert.ok(k in obj, `${where}: ${k} is required`)
    const allowed = part.allowed ?? Object.keys(part.types ?? {})
    for (const k of Object.keys(obj)) assert.ok(allowed.includes(k), `${where}: ${k} is not allowed`)
    for (const [k, types] of Object.entries(part.types ?? {})) assert.ok(types.includes(obj[k] === null ? 'null' : typeof obj[k]), `${where}: ${k} must be ${types.join(' or ')}`)
  }

  it('matches mock\'s schema 1.1.0 and what --hermetic-build requires', () => {
    const lock = mockLockfile({ manifest, bootstrap, repoDir: '/w/repo', baseMacros: BASE }) as any
    assert.equal(lock.version, schema.version)
    conforms(lock, schema.top, 'top')
    conforms(lock.buildroot, schema.buildroot, 'buildroot')
    for (const r of lock.buildroot.rpms) conforms(r, schema.rpm, r.name)
    conforms(lock.bootstrap, schema.bootstrap, 'bootstrap')
    for (const k of schema.hermetic.config_true) assert.equal(lock.config[k], true, k)
    for (const k of schema.hermetic.config_string) assert.equal(typeof lock.config[k], 'string', k)
    for (const k of schema.hermetic.bootstrap_string) assert.equal(typeof lock.bootstrap[k], 'string', k)
    // the manifest's packages, exactly
    assert.deepEqual(lock.buildroot.rpms.map((r: any) => `${r.name}-${r.epoch === null ? '' : `${r.epoch}:`}${r.version}-${r.release}.${r.arch}`), manifest.packages.map(packageNevra))
    assert.equal(lock.buildroot.rpms[1].epoch, '4', 'epochs are strings in the schema')
    assert.equal(lock.buildroot.rpms[0].url, 'file:///w/repo/Packages/bash-5.2-1.fc42.x86_64.rpm')
    assert.equal(lock.config.target_arch, 'x86_64')
    assert.deepEqual(lock.config.legal_host_arches, ['x86_64'])
    assert.equal(lock.config.macros['%vendor'], 'Fedora Project')
    assert.equal(lock.config.macros['%_binary_payload'], 'w19.zstdio')
  })

  it('refuses a value mock would expand, and a bad bootstrap image', () => {
    assert.throws(() => mockLockfile({ manifest: { ...manifest, macros: { vendor: '{{ x }}' } }, bootstrap, repoDir: '/w/repo' }), { name: 'BuildrootUnavailableError' })
    assert.throws(() => mockLockfile({ manifest, bootstrap: { ...bootstrap, image: 'a b' }, repoDir: '/w/repo' }), /bad bootstrap image image/)
  })
})
