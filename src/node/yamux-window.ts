/**
 * Yamux window updates once half the receive window is used, as go-yamux, rust-yamux (since its
 * "Send WindowUpdate message early", rust-yamux #109) and py-libp2p's yamux send them.
 *
 * Why: js-yamux (@chainsafe/libp2p-yamux 8.0.1) answers every data frame it receives with a window update:
 * a 12-byte Yamux header in a Noise message of its own, 30 bytes on the wire, and a Noise encryption at the
 * sender and a decryption at the receiver. Skyline's traffic is small gossip RPCs on long-lived streams, so
 * that was one extra frame for every frame a node received: about 2.6 KB per node per job, and a share of
 * the CPU per gossip message (docs/bench.md). The Yamux spec leaves when to send an update to the receiver
 * (like HTTP/2); a sender with credit left is never held up, and with updates at half the window (128 KiB of
 * the initial 256 KiB) it always has at least half a window of credit.
 *
 * What is unchanged: an update that carries a flag (the SYN of a new stream, the ACK of an accepted one)
 * goes out as before, a paused stream still sends none, and js-yamux's own window growth applies to the
 * updates that are sent.
 *
 * js-yamux has no setting for this, so the stream class's `sendWindowUpdate` is wrapped once, here, when
 * this module is loaded (src/node/libp2p.ts imports it); test/node/yamux-window.test.ts checks it on a real
 * libp2p connection, with the flow control of a transfer many windows long.
 */
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'

/** What the wrapper reads of a js-yamux stream (private fields of YamuxStream 8.0.1) */
interface WindowState {
  state: StreamState
  /** bytes that may be received in a full window */
  recvWindow: number
  /** bytes that may still be received before the sender runs out of credit */
  recvWindowCapacity: number
  sendWindowUpdate: () => void
  skylineHalfWindow?: true
}

const proto = YamuxStream.prototype as unknown as WindowState
if (proto.skylineHalfWindow !== true) {
  const original = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: WindowState) {
    // a stream past its handshake (no flag to send) whose sender still holds more than half a window of
    // credit needs no update yet
    const flagless = this.state === StreamState.SYNSent || this.state === StreamState.Established
    if (flagless && this.recvWindowCapacity > this.recvWindow / 2) return
    original.call(this)
  }
  proto.skylineHalfWindow = true
}
