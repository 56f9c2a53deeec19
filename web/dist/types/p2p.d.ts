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
export declare class PeerLink {
    readonly pc: RTCPeerConnection;
    private readonly session;
    private remoteSet;
    private readonly remoteQueue;
    private sending;
    private readonly localQueue;
    route?: P2pRoute;
    constructor(pc: RTCPeerConnection, session: Session);
    /** Sends an offer or answer to the other party, then the candidates gathered so far. */
    sendDescription(kind: Exclude<P2pKind, 'candidate'>, sdp: string): Promise<void>;
    /** Sets the other party's offer or answer, then the candidates that came before it. */
    setRemote(description: RTCSessionDescriptionInit): Promise<void>;
    /** A candidate of the other party. */
    remoteCandidate(c: WireCandidate): Promise<void>;
    private addCandidate;
    private sendCandidate;
    private send;
}
