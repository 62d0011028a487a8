/**
 * The demo's signed SRPMs: builds packaging/demo/hello-skyline.spec (once per release asked for: the demo
 * also builds the next release, 1.0-2) into an SRPM with `rpmbuild -bs` and the reproducibility macros (so
 * every rebuild of it gives the same binary RPMs, whenever it was made), makes a throwaway OpenPGP key in
 * its own GNUPGHOME (batch, no passphrase), signs the SRPMs with rpmsign, and
 * exports the public key as an `RPM-GPG-KEY-*` file for the nodes' keyring. The gpg-agent it starts is
 * stopped before returning, whatever happens.
 *
 * @example
 * ```ts
 * const { srpmPath, keyPath, nevra } = await makeDemoSrpm('/tmp/skyline-demo/srpm', { signal })
 * ```
 */
import { execFile } from 'node:child_process'
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { reproducibleDefines } from '../../builder/index.ts'
import { whichTool } from './tools.ts'

/** The bundled demo package */
export const DEMO_SPEC = resolve(import.meta.dirname, '../../../packaging/demo/hello-skyline.spec')

/** The uid of the demo's throwaway signing key */
export const DEMO_KEY_UID = 'Skyline Demo Signing Key <demo@example.invalid>'

export interface DemoSrpm {
  srpmPath: string
  /** Armored public key: the nodes' keyring */
  keyPath: string
  /** `name-version-release.src` */
  nevra: string
  /** The signing key's fingerprint */
  fingerprint: string
  /** The SRPMs of the other `releases`, signed with the same key, in their order */
  more: Array<{ srpmPath: string, nevra: string }>
}

export interface MakeDemoSrpmOptions {
  /** @default DEMO_SPEC */
  spec?: string
  /** @default 'rsa3072' (what Fedora's keys are, in a smaller size) */
  keyType?: string
  /** the spec built once per release (its `Release:` line replaced); @default ['1']: the spec as it is */
  releases?: string[]
  signal?: AbortSignal
}

export class DemoSrpmError extends Error {
  static name = 'DemoSrpmError'
  override name = 'DemoSrpmError'
}

async function run (file: string, args: string[], env: Record<string, string>, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 120_000, encoding: 'utf8', signal, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err == null) { resolve(stdout); return }
      if (signal?.aborted === true) { reject(signal.reason instanceof Error ? signal.reason : new Error('interrupted')); return }
      reject(new DemoSrpmError(`${basename(file)} ${args.join(' ')} failed: ${(stderr.trim() !== '' ? stderr.trim() : err.message).split('\n').slice(-5).join(' | ')}`))
    })
  })
}

function tool (name: string): string {
  const p = whichTool(name)
  if (p === undefined) throw new DemoSrpmError(`${name} is missing (npm run setup installs it)`)
  return p
}

/** `rpmbuild -bs` of the spec (for a release other than its own: a copy with that `Release:`) in `topdir`; the SRPM's path */
async function buildSrpm (specSource: string, topdir: string, release: string | undefined, env: Record<string, string>, signal?: AbortSignal): Promise<string> {
  await mkdir(join(topdir, 'SPECS'), { recursive: true })
  const specPath = join(topdir, 'SPECS', basename(specSource))
  if (release === undefined) await copyFile(specSource, specPath)
  else await writeFile(specPath, (await readFile(specSource, 'utf8')).replace(/^Release:(\s*).*$/m, `Release:$1${release}`))
  // with the reproducibility macros the SRPM's build time and host (which rpm copies into the binary RPMs)
  // are fixed too: the same spec gives the same binary RPMs whenever its SRPM was made
  await run(tool('rpmbuild'), ['-bs', '--define', `_topdir ${topdir}`, ...reproducibleDefines(), specPath], env, signal)
  const srpms = (await readdir(join(topdir, 'SRPMS'))).filter(n => n.endsWith('.src.rpm'))
  if (srpms.length !== 1) throw new DemoSrpmError(`expected one SRPM from rpmbuild -bs, found ${srpms.length}`)
  return join(topdir, 'SRPMS', srpms[0])
}

/** Builds and signs the demo SRPM in `dir` (created; gets `srpm-build/`, `gnupg/` and `RPM-GPG-KEY-skyline-demo`) */
export async function makeDemoSrpm (dir: string, opts: MakeDemoSrpmOptions = {}): Promise<DemoSrpm> {
  const specSource = opts.spec ?? DEMO_SPEC
  const gnupgHome = join(dir, 'gnupg')
  await mkdir(gnupgHome, { recursive: true, mode: 0o700 })
  // a fixed environment: no ~/.rpmmacros, no inherited SOURCE_DATE_EPOCH, no user's gpg configuration
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: dir, LANG: 'C.UTF-8', TZ: 'UTC', GNUPGHOME: gnupgHome }
  const gpg = tool('gpg')
  const paths: string[] = []
  for (const [i, release] of (opts.releases ?? [undefined]).entries()) {
    paths.push(await buildSrpm(specSource, join(dir, i === 0 ? 'srpm-build' : `srpm-build-${i}`), release, env, opts.signal))
  }

  const keyPath = join(dir, 'RPM-GPG-KEY-skyline-demo')
  let fingerprint: string
  try {
    await run(gpg, ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', DEMO_KEY_UID, opts.keyType ?? 'rsa3072', 'sign', 'never'], env, opts.signal)
    const colons = await run(gpg, ['--batch', '--with-colons', '--fingerprint', DEMO_KEY_UID], env, opts.signal)
    fingerprint = /^fpr:+([0-9A-F]{40,64}):/m.exec(colons)?.[1] ?? ''
    await writeFile(keyPath, await run(gpg, ['--batch', '--armor', '--export', DEMO_KEY_UID], env, opts.signal))
    await run(tool('rpmsign'), ['--addsign', '--define', `__gpg ${gpg}`, '--define', `_gpg_name ${DEMO_KEY_UID}`, '--define', `_gpg_path ${gnupgHome}`, ...paths], env, opts.signal)
  } finally {
    // gpg leaves an agent running per GNUPGHOME
    await run(tool('gpgconf'), ['--kill', 'all'], env).catch(() => {})
  }
  const srpms = []
  for (const srpmPath of paths) srpms.push({ srpmPath, nevra: (await run(tool('rpm'), ['-qp', '--nosignature', '--qf', '%{NAME}-%{VERSION}-%{RELEASE}.src', srpmPath], env, opts.signal)).trim() })
  return { ...srpms[0], keyPath, fingerprint, more: srpms.slice(1) }
}
