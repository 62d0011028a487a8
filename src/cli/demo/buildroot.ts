/**
 * The demo's buildroot: a few small made-up packages built with rpmbuild (one spec written here: a base
 * package, a library that requires it and tools that require the library, in version 1.0 and 1.1), a
 * createrepo_c repository of all of them served over HTTP on 127.0.0.1 (the nodes' mirror, counting the
 * bytes it serves), and the buildroot manifest that pins the 1.0 set (docs/protocols/buildroot.md): every
 * builder installs exactly those, whatever newer version its mirror offers.
 *
 * @example
 * ```ts
 * const br = await makeDemoBuildroot(join(work, 'buildroot'), { signal })
 * const mirror = await serveDemoMirror(br.repoDir)   // config: buildrootMirrors: [mirror.url]
 * // skyline seed --buildroot br.manifestPath ...
 * await mirror.close()
 * ```
 */
import { execFile } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join, resolve, sep } from 'node:path'
import { reproducibleDefines } from '../../builder/index.ts'
import { packageIdentity } from '../../rpm/index.ts'
import { encodeManifest, manifestDigest, packageNevra, type BuildrootManifest } from '../../rules/buildroot.ts'
import { whichTool } from './tools.ts'

/** The version the manifest pins, and the newer one the mirror offers as well */
const PINNED = '1.0'
const NEWER = '1.1'
/** Bytes of data in each package (incompressible: the packages' sizes are about this) */
const PACKAGE_DATA_BYTES = 48 * 1024

/** The macros the manifest defines for every build of the job */
const DEMO_MACROS = { packager: 'Skyline demo mesh' }

export interface DemoBuildroot {
  /** the createrepo_c repository of every package built (`Packages/`, `repodata/`) */
  repoDir: string
  /** the canonical manifest file (`skyline seed --buildroot`) */
  manifestPath: string
  manifest: BuildrootManifest
  /** hex sha256 of the manifest, as the announcement signs it */
  sha256: string
  /** NEVRAs the mirror offers that the manifest does not pin */
  unpinned: string[]
}

export interface DemoMirror {
  url: string
  /** bytes the mirror has sent so far */
  served: () => number
  close: () => Promise<void>
}

export class DemoBuildrootError extends Error {
  static name = 'DemoBuildrootError'
  override name = 'DemoBuildrootError'
}

/** The spec of the demo's buildroot packages: skyline-demo-base, -libs (requires base) and -tools (requires libs) */
function demoSpec (version: string): string {
  const sub = (name: string, requires: string, summary: string): string =>
    `%package -n ${name}\nSummary: ${summary}\nRequires: ${requires} = %{version}-%{release}\n%description -n ${name}\n${summary}.\n`
  const files = (name: string): string => `%files -n ${name}\n%{_datadir}/${name}/\n`
  const install = ['skyline-demo-base', 'skyline-demo-libs', 'skyline-demo-tools']
    .map(n => `install -D -m 0644 data %{buildroot}%{_datadir}/${n}/data\necho "${n} %{version}" > %{buildroot}%{_datadir}/${n}/version`).join('\n')
  return `# Made-up buildroot packages of skyline demo (src/cli/demo/buildroot.ts)
Name: skyline-demo-base
Version: ${version}
Release: 1
Summary: The base package of the demo buildroot
License: MIT
BuildArch: noarch

%description
The base package of the demo buildroot.

${sub('skyline-demo-libs', 'skyline-demo-base', 'The library package of the demo buildroot')}
${sub('skyline-demo-tools', 'skyline-demo-libs', 'The tools package of the demo buildroot')}
%prep

%build
head -c ${PACKAGE_DATA_BYTES} /dev/urandom > data

%install
${install}

%files
%{_datadir}/skyline-demo-base/

${files('skyline-demo-libs')}
${files('skyline-demo-tools')}
%changelog
* Fri Dec 04 2026 Skyline Demo <demo@example.invalid> - ${version}-1
- This version
`
}

async function run (file: string, args: string[], cwd: string, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const env = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: cwd, LANG: 'C.UTF-8', TZ: 'UTC' }
    execFile(file, args, { env, cwd, timeout: 120_000, signal, maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err == null) { resolve(); return }
      if (signal?.aborted === true) { reject(signal.reason instanceof Error ? signal.reason : new Error('interrupted')); return }
      reject(new DemoBuildrootError(`${file} ${args.slice(0, 2).join(' ')} … failed: ${(stderr.trim() !== '' ? stderr.trim() : err.message).split('\n').slice(-5).join(' | ')}`))
    })
  })
}

function tool (name: string): string {
  const p = whichTool(name)
  if (p === undefined) throw new DemoBuildrootError(`${name} is missing (npm run setup installs it)`)
  return p
}

/** Builds the demo's buildroot packages in both versions into `<dir>/repo/Packages`, makes the repository and the manifest of the pinned set */
export async function makeDemoBuildroot (dir: string, opts: { signal?: AbortSignal } = {}): Promise<DemoBuildroot> {
  const repoDir = join(dir, 'repo')
  const packagesDir = join(repoDir, 'Packages')
  await mkdir(packagesDir, { recursive: true })
  for (const version of [PINNED, NEWER]) {
    const top = join(dir, `rpmbuild-${version}`)
    await mkdir(join(top, 'SPECS'), { recursive: true })
    const spec = join(top, 'SPECS', 'skyline-demo-base.spec')
    await writeFile(spec, demoSpec(version))
    await run(tool('rpmbuild'), ['-bb', '--define', `_topdir ${top}`, '--define', `_rpmdir ${packagesDir}`,
      '--define', '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm', ...reproducibleDefines(), spec], dir, opts.signal)
  }
  await run(tool('createrepo_c'), ['--quiet', repoDir], dir, opts.signal)
  const files = (await readdir(packagesDir)).filter(n => n.endsWith('.rpm')).sort()
  const packages = []
  const unpinned = []
  for (const f of files) {
    const { contentMd5: _, ...id } = await packageIdentity(join(packagesDir, f), opts)
    if (id.version === PINNED) packages.push(id)
    else unpinned.push(packageNevra(id))
  }
  const manifest: BuildrootManifest = { packages, macros: DEMO_MACROS, tools: {} }
  const bytes = encodeManifest(manifest)
  const manifestPath = join(dir, 'manifest.json')
  await writeFile(manifestPath, bytes)
  return { repoDir, manifestPath, manifest, sha256: Buffer.from(manifestDigest(bytes)).toString('hex'), unpinned }
}

/** Serves `repoDir` over HTTP on 127.0.0.1 (GET of files under it, nothing else) */
export async function serveDemoMirror (repoDir: string): Promise<DemoMirror> {
  const root = resolve(repoDir)
  let served = 0
  const server = createServer((req, res) => {
    let path: string
    try {
      path = resolve(root, '.' + decodeURIComponent(new URL(req.url ?? '/', 'http://mirror').pathname))
    } catch {
      res.writeHead(400).end()
      return
    }
    if (req.method !== 'GET' || !path.startsWith(root + sep)) { res.writeHead(404).end(); return }
    const stream = createReadStream(path)
    stream.on('error', () => { if (!res.headersSent) res.writeHead(404).end() })
    stream.on('open', () => res.writeHead(200, { 'content-type': 'application/octet-stream' }))
    stream.on('data', chunk => { served += chunk.length })
    stream.pipe(res)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}/`,
    served: () => served,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
