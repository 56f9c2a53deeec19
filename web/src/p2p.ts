// Relayed sessions (`p2p.preference=enabled`): media goes directly between browsers. For each
// subscription, the subscriber and the stream's publisher hold one peer connection between
// them (the publisher one per subscriber, as OpenTok.js does in relayed mode). The
// subscriber offers (receive-only), the publisher answers; offers, answers and trickled ICE
// candidates travel over the signaling connection as `p2pSignal` (docs/protocol.md), which
// the server forwards to the other party only. The server's STUN/TURN servers are used as
// for routed media, so TURN is the fallback.

import { logger } from './log';
import type { P2pKind, WireCandidate } from './protocol';
import type { Session } from './session';

/** Where one peer connection's signals go: the other party, about one stream and subscription. */
export interface P2pRoute {
  to: string;
  streamId: string;
  subscriptionId: string;
}

/** One peer connection's signaling: queues local candidates until the offer/answer is sent, and
 *  remote ones until the remote description is set. */
export class PeerLink {
  private remoteSet = false;
  private readonly remoteQueue: WireCandidate[] = [];
  private sending = false;
  private readonly localQueue: WireCandidate[] = [];
  route?: P2pRoute;

  constructor(
    readonly pc: RTCPeerConnection,
    private readonly session: Session,
  ) {
    pc.addEventListener('icecandidate', (e) => {
      if (!e.candidate || !e.candidate.candidate) return;
      const c: WireCandidate = { candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex };
      if (this.sending) this.sendCandidate(c);
      else this.localQueue.push(c);
    });
  }

  /** Sends an offer or answer to the other party, then the candidates gathered so far. */
  async sendDescription(kind: Exclude<P2pKind, 'candidate'>, sdp: string): Promise<void> {
    await this.send(kind, { sdp });
    this.sending = true;
    for (const c of this.localQueue.splice(0)) this.sendCandidate(c);
  }

  /** Sets the other party's offer or answer, then the candidates that came before it. */
  async setRemote(description: RTCSessionDescriptionInit): Promise<void> {
    await this.pc.setRemoteDescription(description);
    this.remoteSet = true;
    for (const c of this.remoteQueue.splice(0)) await this.addCandidate(c);
  }

  /** A candidate of the other party. */
  async remoteCandidate(c: WireCandidate): Promise<void> {
    if (this.remoteSet) await this.addCandidate(c);
    else this.remoteQueue.push(c);
  }

  private async addCandidate(c: WireCandidate) {
    await this.pc.addIceCandidate(c).catch((e: Error) => logger.debug('addIceCandidate:', e.message));
  }

  private sendCandidate(candidate: WireCandidate) {
    this.send('candidate', { candidate }).catch((e: Error) => logger.debug('p2p candidate:', e.message));
  }

  private async send(kind: P2pKind, payload: { sdp?: string; candidate?: WireCandidate }): Promise<void> {
    const route = this.route;
    if (!route || this.pc.signalingState === 'closed') return;
    await this.session._request({ type: 'p2pSignal', ...route, kind, ...payload });
  }
}
