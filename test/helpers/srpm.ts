/**
 * Test fixtures: signed SRPMs made on the fly from the specs in test/fixtures/specs/ (or any spec), with a
 * throwaway OpenPGP key. Needs rpmbuild, rpmsign and gpg (scripts/setup.sh installs them).
 *
 * @example
 * ```ts
 * const { srpmPath, keyPath, nevra } = await makeSignedSrpm(await mkdtemp(join(tmpdir(), 't-')))
 * ```
 */
import { execFile } from 'node:child_process'
import { accessSync, constants as fsConstants } from 'node:fs'
import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { detectBuilder, reproducibleDefines, type Builder } from '../../src/builder/index.ts'

export const SPECS_DIR = resolve(import.meta.dirname, '../fixtures/specs')
export const DEMO_SPEC = resolve(import.meta.dirname, '../../packaging/demo/hello-skyline.spec')

/** The uid of the throwaway signing key */
export const TEST_KEY_UID = 'Skyline Test Signing Key <signing@example.invalid>'

export interface SrpmFixture {
  srpmPath: string
  /** Armored public key (an RPM-GPG-KEY file) */
  keyPath: string
  /** `name-version-release.src` */
  nevra: string
  gnupgHome: string
}

export interface MakeSrpmOptions {
  /** A spec in test/fixtures/specs/ by name (`skyline-hello`), or a path to a .spec. Default: skyline-hello */
  spec?: string
  /** `@KEY@` in the spec is replaced by its value */
  substitutions?: Record<string, string>
  /** @default 'rsa3072' (what Fedora's keys are, in a smaller size) */
  keyType?: 'rsa3072' | 'ed25519'
  /** Sign the SRPM. @default true */
  sign?: boolean
}

/** The tools the fixtures need, missing ones named; undefined when all are there */
export function missingTools (tools = ['rpmbuild', 'rpmsign', 'gpg', 'gpgconf']): string | undefined {
  const missing = tools.filter(t => !['/usr/bin', '/bin', '/usr/sbin', '/sbin'].some(d => {
    try {
      accessSync(join(d, t), fsConstants.X_OK)
      return true
    } catch {
      return false
    }
  }))
  return missing.length > 0 ? missing.join(', ') : undefined
}

async function run (file: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`${file} ${args.join(' ')} failed: ${stderr || err.message}`))
      else resolve(stdout)
    })
  })
}

/** Writes the spec into `dir`, builds its SRPM (rpmbuild -bs), and signs it with a key made for `dir` */
export async function makeSignedSrpm (dir: string, opts: MakeSrpmOptions = {}): Promise<SrpmFixture> {
  const specName = opts.spec ?? 'skyline-hello'
  const specSource = specName.endsWith('.spec') ? specName : join(SPECS_DIR, `${specName}.spec`)
  let spec = await readFile(specSource, 'utf8')
  for (const [k, v] of Object.entries(opts.substitutions ?? {})) spec = spec.replaceAll(`@${k}@`, v)
  const left = /@[A-Z_]+@/.exec(spec)
  if (left !== null) throw new Error(`${specSource}: ${left[0]} has no substitution`)

  const topdir = join(dir, 'srpm-build')
  const gnupgHome = join(dir, 'gnupg')
  await mkdir(join(topdir, 'SPECS'), { recursive: true })
  await mkdir(gnupgHome, { recursive: true, mode: 0o700 })
  const env = { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', HOME: dir, LANG: 'C.UTF-8', TZ: 'UTC', GNUPGHOME: gnupgHome }
  const specPath = join(topdir, 'SPECS', specSource.slice(specSource.lastIndexOf('/') + 1))
  await writeFile(specPath, spec)
  // with the reproducibility macros, the SRPM's own build time and host (which rpm copies into the binary
  // RPMs' cookie) are fixed too: the same spec gives the same binary RPMs whenever its SRPM was made
  await run('rpmbuild', ['-bs', '--define', `_topdir ${topdir}`, ...reproducibleDefines(), specPath], env)
  const srpms = (await readdir(join(topdir, 'SRPMS'))).filter(n => n.endsWith('.src.rpm'))
  if (srpms.length !== 1) throw new Error(`expected one SRPM, found ${srpms.join(', ')}`)
  const srpmPath = join(topdir, 'SRPMS', srpms[0])

  const keyPath = join(dir, 'RPM-GPG-KEY-skyline-test')
  try {
    await run('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', TEST_KEY_UID, opts.keyType ?? 'rsa3072', 'sign', 'never'], env)
    await writeFile(keyPath, await run('gpg', ['--batch', '--armor', '--export', TEST_KEY_UID], env))
    if (opts.sign !== false) {
      await run('rpmsign', ['--addsign', '--define', '__gpg /usr/bin/gpg', '--define', `_gpg_name ${TEST_KEY_UID}`, '--define', `_gpg_path ${gnupgHome}`, srpmPath], env)
    }
  } finally {
    // gpg leaves an agent running per GNUPGHOME
    await run('gpgconf', ['--kill', 'all'], env).catch(() => {})
  }
  const nevra = (await run('rpm', ['-qp', '--nosignature', '--qf', '%{NAME}-%{VERSION}-%{RELEASE}.src', srpmPath], env)).trim()
  return { srpmPath, keyPath, nevra, gnupgHome }
}

/**
 * The rpmbuild builder and a temporary directory (0711: as root, builds run as uid 65534, which must
 * reach the work dirs) for a builder test's `before` hook. Skips the suite, saying why, where the tools
 * are missing; with the tools here, a sandbox that does not work is a failure, not a skip.
 */
export async function rpmbuildForTest (ctx: Mocha.Context, prefix: string): Promise<{ builder: Builder, dir: string }> {
  const missing = missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap'])
  if (missing !== undefined) {
    console.warn(`      skipped: ${missing} not installed (scripts/setup.sh installs them)`)
    ctx.skip()
  }
  const detected = await detectBuilder('rpmbuild')
  assert.ok(detected.builder !== undefined, `no rpmbuild builder: ${detected.reason}`)
  const dir = await mkdtemp(join(tmpdir(), prefix))
  await chmod(dir, 0o711)
  return { builder: detected.builder, dir }
}
