import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { MAX_RESPONSE_BYTES } from './constants.ts'
import { decodeResponse, encodeRequest, type Response } from './wire.ts'

/** A request/response channel of a fetch on one `/skyline/blob/1.0.0` stream */
export class Channel {
  readonly stream: Stream
  private readonly lp: LengthPrefixedStream<Stream>

  constructor (stream: Stream) {
    this.stream = stream
    this.lp = lpStream(stream, { maxDataLength: MAX_RESPONSE_BYTES, maxBufferSize: MAX_RESPONSE_BYTES + 64 * 1024 })
  }

  /** Sends one request and reads its response (checked to answer `type`) */
  async request (type: number, sha256: string, index: number, signal: AbortSignal): Promise<Response> {
    await this.lp.write(encodeRequest({ type, sha256, index }), { signal })
    return decodeResponse(await this.lp.read({ signal }), type)
  }

  close (): void {
    this.stream.close().catch(() => {})
  }

  abort (err: Error): void {
    this.stream.abort(err)
  }
}
