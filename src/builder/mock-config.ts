/**
 * The mock configuration of a job with a buildroot manifest (docs/protocols/buildroot.md, "With mock"): a
 * chroot of its own, installed from ONE repository that holds exactly the manifest's packages, with the
 * manifest's macros; or, for mock 5.7+, mock's hermetic-build lockfile of the same packages. Pure: text in,
 * text out. What mock documents and this follows (github.com/rpm-software-management/mock, read at commit
 * 8178752, after mock-6.7):
 * - mock/docs/site-defaults.cfg: the config_opts keys (`root`, `target_arch`, `legal_host_arches`,
 *   `chroot_setup_cmd`, `dnf.conf` — "You must use 'assumeyes=1'", `use_bootstrap`, `use_bootstrap_image`,
 *   `rpmbuild_networking`, `package_manager` = dnf4 | dnf5, `releasever`, `update_before_build`,
 *   `cleanup_on_*`, `macros`, `plugin_conf`); the list is test/fixtures/mock/site-defaults-keys.txt;
 * - mock/py/mockbuild/config.py: a config file is Python run by `exec`, after which every string option is
 *   rendered as a Jinja2 template (python-templated-dictionary: a sandboxed environment, re-rendered until
 *   it stops changing) — so a value from a manifest must be neither Python nor Jinja; a macro name without
 *   `%` gets one; an empty macro value is refused by mock;
 * - mock/etc/mock/hermetic-build.cfg and process_hermetic_build_config(): the offline repository's dnf.conf
 *   (`gpgcheck=0`, `best=1`, `reposdir=/dev/null`), `chroot_setup_cmd = 'install *'`, and what a lockfile
 *   must record (`bootstrap_image_ready` true, the image's pull and image digests);
 * - mock/docs/buildroot-lock-schema-1.1.0.json: the lockfile format (test/fixtures/mock/buildroot-lock-1.1.0.json);
 * - keszybz/fedora-repro-build (koji_rebuild.py): a Koji buildroot rebuilt from a createrepo_c repository of
 *   exactly its packages, named in a mock config that uses that repository only and no bootstrap chroot.
 */
import { packageFileName, type BuildrootManifest } from '../rules/buildroot.ts'
import { BuildrootUnavailableError } from './errors.ts'

/** The name of the repository in the generated dnf.conf */
export const MOCK_REPO_ID = 'skyline-buildroot'

/** `legal_host_arches` for each `target_arch`, as mock-core-configs' Fedora configs set them */
export const LEGAL_HOST_ARCHES: Readonly<Record<string, readonly string[]>> = {
  x86_64: ['x86_64'],
  i686: ['i386', 'i586', 'i686', 'x86_64'],
  aarch64: ['aarch64'],
  ppc64le: ['ppc64le'],
  s390x: ['s390x'],
  riscv64: ['riscv64']
}

/** Node's `process.arch` → rpm's arch */
const NODE_ARCH: Readonly<Record<string, string>> = { x64: 'x86_64', ia32: 'i686', arm64: 'aarch64', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' }

export interface MockConfigOptions {
  manifest: BuildrootManifest
  /** The per-job repository (an absolute path; createrepo_c has made its repodata/) */
  repoDir: string
  /** `config_opts['root']`: the chroot's name, one per job */
  root: string
  /** `target_arch`; @default targetArchOf(manifest) */
  targetArch?: string
  /**
   * What mock installs into the fresh chroot: `all` — `install *`, every package of the repository, which
   * holds exactly the manifest's (as mock's own hermetic builds do); `exact` — each package by its NEVRA.
   * @default 'all'
   */
  install?: 'all' | 'exact'
  /** @default 'dnf5' (Fedora 41 and later); mock falls back to dnf4 when the host has no dnf5 */
  packageManager?: 'dnf4' | 'dnf5'
  /** Macros set before the manifest's, which win over them: the reproducibility macros and the payload */
  baseMacros?: ReadonlyArray<readonly [string, string]>
}

const SAFE_CHAR = /[A-Za-z0-9 _.,:/+=@%-]/

/**
 * A Python string literal of `s` that nothing in `s` can end: every character but a few plain ones is
 * written as an escape (`\n`, `\xNN`, `\uNNNN`, `\UNNNNNNNN`), so no quote, backslash or line break
 * appears as itself.
 */
export function pythonString (s: string): string {
  let out = "'"
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number
    if (SAFE_CHAR.test(ch)) out += ch
    else if (ch === '\n') out += '\\n'
    else if (cp < 0x100) out += `\\x${cp.toString(16).padStart(2, '0')}`
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`
    else out += `\\U${cp.toString(16).padStart(8, '0')}`
  }
  return `${out}'`
}

function refuse (what: string): never {
  throw new BuildrootUnavailableError(`buildroot cannot be materialised with mock: ${what}`)
}

const MACRO_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const JINJA = /\{[{%#]/

/**
 * Checks a value mock will read: mock renders every string option as a Jinja2 template, so `{{`, `{%` and
 * `{#` would be expanded (or fail), and a line break in a macro would add lines to the chroot's .rpmmacros.
 */
function checkValue (value: string, what: string): string {
  if (JINJA.test(value)) refuse(`${what} holds Jinja2 syntax ({{, {% or {#), which mock would expand`)
  if (/[\n\r\0]/.test(value)) refuse(`${what} holds a line break or NUL`)
  return value
}

/** The macros of a build: the base ones, then the manifest's (a manifest's `_buildhost` wins); names as mock keeps them, with `%` */
export function mockMacros (manifest: BuildrootManifest, baseMacros: ReadonlyArray<readonly [string, string]> = []): Array<[string, string]> {
  const macros = new Map<string, string>()
  for (const [name, value] of [...baseMacros, ...Object.entries(manifest.macros)]) {
    if (!MACRO_NAME.test(name)) refuse(`bad macro name ${JSON.stringify(name.slice(0, 80))}`)
    if (value === '') refuse(`macro ${name} is empty, which mock refuses`)
    macros.set(`%${name}`, checkValue(value, `macro ${name}`))
  }
  return [...macros]
}

/** The build's arch: the most common arch of the manifest's packages that is not noarch, else the host's */
export function targetArchOf (manifest: BuildrootManifest, hostArch: string = process.arch): string {
  const counts = new Map<string, number>()
  for (const p of manifest.packages) if (p.arch !== 'noarch') counts.set(p.arch, (counts.get(p.arch) ?? 0) + 1)
  const best = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0]
  return best ?? NODE_ARCH[hostArch] ?? hostArch
}

/** `releasever` where the manifest says it: the fedora-release package's version, else the `.fcNN` tag most releases carry */
export function releaseverOf (manifest: BuildrootManifest): string | undefined {
  const release = manifest.packages.find(p => p.name === 'fedora-release-common' || p.name === 'fedora-release')
  if (release !== undefined && /^\d+$/.test(release.version)) return release.version
  const counts = new Map<string, number>()
  for (const p of manifest.packages) {
    const m = /\.fc(\d+)(?!\d)/.exec(p.release)
    if (m !== null) counts.set(m[1], (counts.get(m[1]) ?? 0) + 1)
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0]
}

const NEVRA_CHARS = /^[A-Za-z0-9._+~^:-]+$/

/** `name-[epoch:]version-release.arch` of every package, checked to hold nothing a command line could split on */
function installSpecs (manifest: BuildrootManifest): string[] {
  return manifest.packages.map(p => {
    const spec = `${p.name}-${p.epoch === null ? '' : `${p.epoch}:`}${p.version}-${p.release}.${p.arch}`
    if (!NEVRA_CHARS.test(spec)) refuse(`bad package ${JSON.stringify(spec.slice(0, 120))}`)
    return spec
  })
}

function checkArch (arch: string): readonly string[] {
  const legal = LEGAL_HOST_ARCHES[arch]
  if (legal === undefined) refuse(`no mock target for arch ${JSON.stringify(arch.slice(0, 40))}`)
  return legal
}

/** An absolute path of plain characters (it goes into a file:// URL and through Jinja2) */
function checkRepoDir (repoDir: string): string {
  if (!/^\/[A-Za-z0-9_./+-]+$/.test(repoDir) || repoDir.split('/').includes('..')) refuse(`bad repository path ${JSON.stringify(repoDir.slice(0, 200))}`)
  return repoDir
}

/** The dnf.conf of the chroot: the per-job repository and nothing else; packages are checked by content sha256 before they are put there, so no gpgcheck */
export function mockDnfConf (repoDir: string): string {
  checkRepoDir(repoDir)
  return [
    '[main]', 'keepcache=0', 'debuglevel=2', 'reposdir=/dev/null', 'logfile=/var/log/yum.log', 'retries=1',
    'obsoletes=1', 'gpgcheck=0', 'assumeyes=1', 'syslog_ident=mock', 'syslog_device=', 'install_weak_deps=0',
    'metadata_expire=0', 'best=1', 'protected_packages=', '',
    `[${MOCK_REPO_ID}]`, 'name=the job\'s buildroot, exactly the manifest\'s packages', `baseurl=file://${repoDir}`,
    'enabled=1', 'gpgcheck=0', 'skip_if_unavailable=False', ''
  ].join('\n')
}

type PyValue = string | boolean | readonly string[]

function pyValue (v: PyValue): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  if (typeof v === 'string') return pythonString(v)
  return `(${v.map(pythonString).join(', ')}${v.length === 1 ? ',' : ''})`
}

/**
 * The options the generated config sets, in order: `[key path, value]`, where the path is the key under
 * config_opts and, for `macros` and `plugin_conf`, the keys under it.
 */
export function mockConfigEntries (opts: MockConfigOptions): Array<[string[], PyValue]> {
  const { manifest } = opts
  if (!/^[A-Za-z0-9_.+-]{1,100}$/.test(opts.root)) refuse(`bad chroot name ${JSON.stringify(opts.root.slice(0, 120))}`)
  const arch = opts.targetArch ?? targetArchOf(manifest)
  const legal = checkArch(arch)
  const releasever = releaseverOf(manifest)
  const entries: Array<[string[], PyValue]> = [
    [['root'], opts.root],
    [['target_arch'], arch],
    [['legal_host_arches'], legal],
    [['chroot_setup_cmd'], (opts.install ?? 'all') === 'all' ? 'install *' : `install ${installSpecs(manifest).join(' ')}`],
    [['package_manager'], opts.packageManager ?? 'dnf5'],
    [['dnf.conf'], mockDnfConf(opts.repoDir)],
    [['use_bootstrap'], false],
    [['use_bootstrap_image'], false],
    [['rpmbuild_networking'], false],
    [['update_before_build'], false],
    [['cleanup_on_success'], true],
    [['cleanup_on_failure'], true],
    [['plugin_conf', 'root_cache_enable'], false],
    [['plugin_conf', 'yum_cache_enable'], false],
    [['plugin_conf', 'ccache_enable'], false],
    [['plugin_conf', 'package_state_enable'], true],
    // installed_pkgs.log is what the installed set is compared with after the build
    [['plugin_conf', 'package_state_opts', 'installed_pkgs'], true]
  ]
  if (releasever !== undefined) entries.push([['releasever'], releasever])
  for (const [name, value] of mockMacros(manifest, opts.baseMacros)) entries.push([['macros', name], value])
  return entries
}

/** The text of the mock config (.cfg, Python) of a job with a manifest */
export function mockConfigText (opts: MockConfigOptions): string {
  const lines = [
    '# Generated by skyline for one job: the buildroot manifest\'s packages from one local repository, its macros.',
    '# Do not edit; see docs/protocols/buildroot.md.'
  ]
  for (const [path, value] of mockConfigEntries(opts)) {
    lines.push(`config_opts${path.map(k => `[${pythonString(k)}]`).join('')} = ${pyValue(value)}`)
  }
  return `${lines.join('\n')}\n`
}

/** The bootstrap image a hermetic build starts from (mock requires one, prepared: `bootstrap_image_ready`) */
export interface MockBootstrapImage {
  /** e.g. `registry.fedoraproject.org/fedora:42` */
  image: string
  /** podman's RepoDigests entry (`sha256:…`), what `mock --hermetic-build` pulls it by */
  pullDigest: string
  /** mock's digest of the image's layers and config, which it asserts */
  imageDigest: string
  /** OCI architecture, e.g. `amd64` */
  architecture: string
  /** podman's image ID */
  id: string
}

export interface MockLockfileOptions {
  manifest: BuildrootManifest
  bootstrap: MockBootstrapImage
  targetArch?: string
  packageManager?: 'dnf4' | 'dnf5'
  baseMacros?: ReadonlyArray<readonly [string, string]>
  /** where each package is (its `url`): the per-job repository, as a path */
  repoDir: string
}

/**
 * mock's `buildroot_lock.json` (schema 1.1.0) for `mock --hermetic-build LOCKFILE REPO SRPM`: the manifest's
 * packages and the config mock carries over (target_arch, legal_host_arches, package_manager, the
 * bootstrap image, macros). The manifest does not record licences or signatures: `license` is empty and
 * `signature` null (mock reads neither when it builds).
 */
export function mockLockfile (opts: MockLockfileOptions): Record<string, unknown> {
  const arch = opts.targetArch ?? targetArchOf(opts.manifest)
  const legal = checkArch(arch)
  const repo = checkRepoDir(opts.repoDir)
  const b = opts.bootstrap
  for (const [k, v] of Object.entries(b)) {
    if (typeof v !== 'string' || !/^[A-Za-z0-9_.:/@+-]{1,300}$/.test(v)) refuse(`bad bootstrap image ${k}`)
  }
  return {
    version: '1.1.0',
    buildroot: {
      rpms: opts.manifest.packages.map(p => ({
        arch: p.arch,
        epoch: p.epoch === null ? null : String(p.epoch),
        license: '',
        name: p.name,
        release: p.release,
        sigmd5: p.sigmd5,
        signature: null,
        url: `file://${repo}/Packages/${packageFileName(p)}`,
        version: p.version
      }))
    },
    bootstrap: { image_digest: b.imageDigest, pull_digest: b.pullDigest, architecture: b.architecture, id: b.id },
    config: {
      target_arch: arch,
      legal_host_arches: [...legal],
      package_manager: opts.packageManager ?? 'dnf5',
      bootstrap_image: b.image,
      bootstrap_image_ready: true,
      macros: Object.fromEntries(mockMacros(opts.manifest, opts.baseMacros))
    }
  }
}

/**
 * The bootstrap image recorded in a buildroot_lock.json that mock itself wrote (`mock
 * --calculate-build-dependencies`): `config.bootstrap_image`, `config.bootstrap_image_ready` (which
 * --hermetic-build requires) and the `bootstrap` object. Throws an Error saying what is missing.
 */
export function bootstrapFromLockfile (lock: unknown): MockBootstrapImage {
  const l = lock as { config?: Record<string, unknown>, bootstrap?: Record<string, unknown> } | null
  const text = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || !/^[A-Za-z0-9_.:/@+-]{1,300}$/.test(v)) throw new Error(`the lockfile has no usable ${what}`)
    return v
  }
  if (l?.config?.bootstrap_image_ready !== true) throw new Error('the lockfile does not record bootstrap_image_ready = True, which mock --hermetic-build requires')
  return {
    image: text(l.config.bootstrap_image, 'config.bootstrap_image'),
    pullDigest: text(l.bootstrap?.pull_digest, 'bootstrap.pull_digest'),
    imageDigest: text(l.bootstrap?.image_digest, 'bootstrap.image_digest'),
    architecture: text(l.bootstrap?.architecture, 'bootstrap.architecture'),
    id: text(l.bootstrap?.id, 'bootstrap.id')
  }
}

/** Where mock-hermetic-repo (and mock --hermetic-build) keep the bootstrap image in a repository: `<image without its tag>@<pull digest>` */
export function bootstrapImagePath (image: MockBootstrapImage): string {
  const name = `${image.image.split(':')[0]}@${image.pullDigest}`
  if (name.split('/').some(part => part === '' || part === '.' || part === '..')) refuse(`bad bootstrap image name ${JSON.stringify(name.slice(0, 200))}`)
  return name
}
