/**
 * The node's cache of buildroot packages, by content sha256 (docs/protocols/buildroot.md): every file is
 * checked against its manifest entry (sigmd5 and content sha256, rpm/package-digest.ts) before it is kept
 * or used, so a file damaged on disk is refused, removed and fetched again; what is missing comes from
 * peers that hold it (peer-packages.ts), else from the configured mirrors. The cache is bounded (least recently used files go first, never those of a job in
 * progress).
 */
import { existsSync, mkdirSync } from 'node:fs'
import { readdir, rename, rm, stat, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Logger } from '@libp2p/interface'
import { packageNevra, SIGNATURE_ALLOWANCE, type BuildrootManifest, type BuildrootPackage } from '../../rules/buildroot.ts'
// not the rpm/index.ts barrel: that loads OpenPGP.js (a few MB), which only a node with a keyring needs
import { packageIdentity } from '../../rpm/package-digest.ts'
import { BuildrootUnavailableError } from '../../builder/index.ts'
import { Mirror } from './mirror.ts'
import type { PeerPackages } from './peer-packages.ts'

/** @default 3 peers tried for one package (each one whose file was not the package is skipped next time) */
export const PEER_ATTEMPTS = 3

/** @default 20 GiB of buildroot packages */
export const DEFAULT_PACKAGE_CACHE_BYTES = 20 * 1024 ** 3

export interface PackageCacheInit {
  /** the cache directory (made 0755 if absent) */
  directory: string
  /** dnf repositories (HTTP or HTTPS) to fetch packages from, tried in order */
  mirrors: string[]
  /** @default DEFAULT_PACKAGE_CACHE_BYTES */
  maxBytes?: number
  /** peers to fetch packages from before the mirrors (and to serve the cached ones to) */
  peers?: Pick<PeerPackages, 'download' | 'serve'>
  log: Logger
}

export interface PackageCacheStats {
  /** bytes downloaded from mirrors */
  fromMirrors: number
  /** bytes downloaded from peers */
  fromPeers: number
  /** bytes served from the cache */
  fromCache: number
  /** cached files found damaged, removed and fetched again */
  refused: number
}

/** Whether the file at `path` is exactly the package `p` lists (a signed copy of it counts) */
export async function matches (path: string, p: BuildrootPackage, signal?: AbortSignal): Promise<boolean> {
  try {
    const id = await packageIdentity(path, { signal })
    return packageNevra(id) === packageNevra(p) && id.sigmd5 === p.sigmd5 && id.contentMd5 === p.sigmd5 &&
      id.sha256 === p.sha256 && id.size <= p.size + SIGNATURE_ALLOWANCE
  } catch {
    return false
  }
}

export class PackageCache {
  private readonly init: PackageCacheInit
  private readonly mirrors: Mirror[]
  private readonly inUse = new Map<string, number>()
  readonly stats: PackageCacheStats = { fromMirrors: 0, fromPeers: 0, fromCache: 0, refused: 0 }

  constructor (init: PackageCacheInit) {
    this.init = init
    this.mirrors = init.mirrors.map(url => new Mirror(url))
    mkdirSync(init.directory, { recursive: true, mode: 0o755 })
    init.peers?.serve(sha256 => /^[0-9a-f]{64}$/.test(sha256) && existsSync(this.pathOf(sha256)) ? this.pathOf(sha256) : undefined)
  }

  private pathOf (sha256: string): string {
    return join(this.init.directory, `${sha256}.rpm`)
  }

  /**
   * A checked local file for every package of the manifest (content sha256 → path), held until `release`
   * is called; throws BuildrootUnavailableError naming the first package no cache or mirror has.
   */
  async obtain (manifest: BuildrootManifest, signal?: AbortSignal): Promise<{ packages: Map<string, string>, release: () => void }> {
    const held: string[] = []
    const release = (): void => {
      for (const s of held) {
        const n = (this.inUse.get(s) ?? 1) - 1
        if (n <= 0) this.inUse.delete(s)
        else this.inUse.set(s, n)
      }
    }
    try {
      const packages = new Map<string, string>()
      for (const p of manifest.packages) {
        this.inUse.set(p.sha256, (this.inUse.get(p.sha256) ?? 0) + 1)
        held.push(p.sha256)
        packages.set(p.sha256, await this.one(p, signal))
      }
      await this.evict()
      return { packages, release }
    } catch (err) {
      release()
      throw err
    }
  }

  /** The cached file of `p`, checked; else fetched from the mirrors, checked, and cached */
  private async one (p: BuildrootPackage, signal?: AbortSignal): Promise<string> {
    const path = this.pathOf(p.sha256)
    const cached = await stat(path).catch(() => undefined)
    if (cached !== undefined) {
      if (await matches(path, p, signal)) {
        this.stats.fromCache += cached.size
        const now = new Date()
        await utimes(path, now, now)
        return path
      }
      this.stats.refused++
      this.init.log('cached %s is not the package the manifest lists: removed, fetched again', packageNevra(p))
      await rm(path, { force: true })
    }
    const problems: string[] = []
    if (await this.fromPeers(p, path, problems, signal)) return path
    for (const mirror of this.mirrors) {
      const tmp = join(this.init.directory, `.part-${randomBytes(8).toString('hex')}`)
      try {
        if (!await mirror.download(p, tmp, signal)) {
          problems.push(`${mirror.url}: not there`)
          continue
        }
        if (!await matches(tmp, p, signal)) {
          problems.push(`${mirror.url}: a different file (sigmd5 or sha256)`)
          continue
        }
        this.stats.fromMirrors += (await stat(tmp)).size
        await rename(tmp, path)
        return path
      } catch (err: any) {
        signal?.throwIfAborted()
        problems.push(`${mirror.url}: ${err.message}`)
      } finally {
        await rm(tmp, { force: true })
      }
    }
    throw new BuildrootUnavailableError(`buildroot package missing: ${packageNevra(p)} (sha256 ${p.sha256.slice(0, 16)}…)${problems.length > 0 ? `: ${problems.join('; ')}` : ': no mirror configured'}`)
  }

  /** Fetches `p` from peers into `path`, checked; a peer whose file is not the package is not asked again for it */
  private async fromPeers (p: BuildrootPackage, path: string, problems: string[], signal?: AbortSignal): Promise<boolean> {
    if (this.init.peers === undefined) return false
    const tried = new Set<string>()
    for (let attempt = 0; attempt < PEER_ATTEMPTS; attempt++) {
      const tmp = join(this.init.directory, `.part-${randomBytes(8).toString('hex')}`)
      try {
        const peer = await this.init.peers.download(p, tmp, signal, tried)
        if (peer === undefined) return false
        tried.add(peer.toString())
        if (!await matches(tmp, p, signal)) {
          problems.push(`peer ${peer.toString()}: a different file (sigmd5 or sha256)`)
          continue
        }
        this.stats.fromPeers += (await stat(tmp)).size
        await rename(tmp, path)
        return true
      } catch (err: any) {
        signal?.throwIfAborted()
        problems.push(`peers: ${err.message}`)
        return false
      } finally {
        await rm(tmp, { force: true })
      }
    }
    return false
  }

  /** Removes the least recently used packages no job holds until the cache fits its limit */
  private async evict (): Promise<void> {
    const max = this.init.maxBytes ?? DEFAULT_PACKAGE_CACHE_BYTES
    const files = []
    for (const name of await readdir(this.init.directory)) {
      if (!/^[0-9a-f]{64}\.rpm$/.test(name)) continue
      const st = await stat(join(this.init.directory, name)).catch(() => undefined)
      if (st !== undefined) files.push({ sha256: name.slice(0, 64), size: st.size, used: st.mtimeMs })
    }
    let total = files.reduce((n, f) => n + f.size, 0)
    files.sort((a, b) => a.used - b.used)
    for (const f of files) {
      if (total <= max) break
      if (this.inUse.has(f.sha256)) continue
      await rm(this.pathOf(f.sha256), { force: true })
      total -= f.size
    }
  }
}
