/**
 * The builder protocol: a node that can build registers it, and identify tells every peer so; that is
 * what makes the node a candidate in a seeder's lookup (src/services/candidates.ts). A stream on it
 * gets one JSON line with the builder's capabilities, then the stream closes.
 * Specification: docs/protocols/assignment.md, "The builder protocol".
 */
import type { Libp2p } from '@libp2p/interface'
import { PROTOCOLS } from '../protocols/ids.ts'

/** The one line a builder answers with */
export interface BuilderCapabilities {
  /** the builder backend: 'rpmbuild' or 'mock' */
  builder: string
  /** how many builds it runs at once */
  concurrency: number
  /** the Skyline version it runs */
  version: string
}

export interface BuilderProtocolInit {
  /** @default 5 s to close the stream after the answer */
  closeTimeoutMs?: number
  /** @default 4 streams at once per connection */
  maxInboundStreams?: number
}

export interface BuilderProtocolComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  /** the answer; called per stream, so it reflects the node's current state */
  capabilities: () => BuilderCapabilities
}

export class BuilderProtocol {
  private readonly components: BuilderProtocolComponents
  private readonly closeTimeoutMs: number
  private readonly maxInboundStreams: number

  constructor (components: BuilderProtocolComponents, init: BuilderProtocolInit = {}) {
    this.components = components
    this.closeTimeoutMs = init.closeTimeoutMs ?? 5_000
    this.maxInboundStreams = init.maxInboundStreams ?? 4
  }

  /** Registers the handler: call before libp2p starts, so the first identify already lists it */
  async start (): Promise<void> {
    await this.components.libp2p.handle(PROTOCOLS.builder, async stream => {
      const line = JSON.stringify(this.components.capabilities()) + '\n'
      stream.send(new TextEncoder().encode(line))
      await stream.close({ signal: AbortSignal.timeout(this.closeTimeoutMs) }).catch(err => stream.abort(err))
    }, { maxInboundStreams: this.maxInboundStreams, maxOutboundStreams: 1 })
  }

  async stop (): Promise<void> {
    await this.components.libp2p.unhandle(PROTOCOLS.builder)
  }
}
