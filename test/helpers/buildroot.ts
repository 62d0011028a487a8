/**
 * Buildroot fixtures: small binary packages built with rpmbuild from test/fixtures/specs/skyline-buildroot-pkg.spec
 * (several versions of one name, with dependencies), their manifest, and a createrepo_c repository of them
 * served over HTTP on 127.0.0.1 (a "mirror").
 */
import { execFile } from 'node:child_process'
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { createReadStream } from 'node:fs'
import { reproducibleDefines, type BuildrootInput } from '../../src/builder/index.ts'
import { packageIdentity } from '../../src/rpm/index.ts'
import { encodeManifest, manifestDigest, type BuildrootManifest } from '../../src/rules/buildroot.ts'
import { SPECS_DIR } from './srpm.ts'

async function run (file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/nonexistent', LANG: 'C.UTF-8', TZ: 'UTC' }, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`${file} ${args.join(' ')} failed: ${stderr || err.message}`))
      else resolve(stdout)
    })
  })
}

/** Builds `name-version-1.noarch.rpm` (holding /usr/share/<name>/version) into `dir`; returns its path */
export async function makeBuildrootPackage (dir: string, name: string, version: string, requires?: string): Promise<string> {
  const top = join(dir, `top-${name}-${version}`)
  await mkdir(join(top, 'SPECS'), { recursive: true })
  const spec = (await readFile(join(SPECS_DIR, 'skyline-buildroot-pkg.spec'), 'utf8'))
    .replaceAll('@NAME@', name).replaceAll('@VERSION@', version).replaceAll('@REQUIRES@', requires !== undefined ? `Requires: ${requires}` : '')
  const specPath = join(top, 'SPECS', `${name}.spec`)
  await writeFile(specPath, spec)
  await run('rpmbuild', ['-bb', '--define', `_topdir ${top}`, '--define', `_rpmdir ${dir}`, '--define', '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm', ...reproducibleDefines(), specPath])
  return join(dir, `${name}-${version}-1.noarch.rpm`)
}

/** The manifest of exactly these package files (content sha256 and sigmd5 read from each) */
export async function manifestOf (paths: string[], extra: Partial<BuildrootManifest> = {}): Promise<{ manifest: BuildrootManifest, bytes: Uint8Array, sha256: string }> {
  const packages = []
  for (const p of paths) {
    const { contentMd5: _, ...id } = await packageIdentity(p)
    packages.push(id)
  }
  const manifest: BuildrootManifest = { packages, macros: {}, tools: {}, ...extra }
  const bytes = encodeManifest(manifest)
  return { manifest, bytes, sha256: Buffer.from(manifestDigest(bytes)).toString('hex') }
}

/** A builder's input for these files: the manifest and a map from content sha256 to path */
export async function buildrootInput (paths: string[], extra: Partial<BuildrootManifest> = {}): Promise<BuildrootInput> {
  const { manifest, sha256 } = await manifestOf(paths, extra)
  return { manifest, sha256, packages: new Map(manifest.packages.map((p, i) => [p.sha256, paths[i]])) }
}

/** A createrepo_c repository of these packages in `dir`, served over HTTP on 127.0.0.1; the URL and how to stop it */
export async function serveMirror (dir: string, paths: string[]): Promise<{ url: string, server: Server, requests: string[] }> {
  await mkdir(join(dir, 'Packages'), { recursive: true })
  for (const p of paths) await cp(p, join(dir, 'Packages', p.slice(p.lastIndexOf('/') + 1)))
  await run('createrepo_c', ['--quiet', dir])
  const requests: string[] = []
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    requests.push(path)
    if (path.includes('..')) { res.writeHead(400).end(); return }
    createReadStream(join(dir, path)).on('error', () => res.writeHead(404).end()).pipe(res)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return { url: `http://127.0.0.1:${port}/`, server, requests }
}

/** Lists a directory's .rpm files */
export async function rpmsIn (dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(n => n.endsWith('.rpm')).map(n => join(dir, n))
}
