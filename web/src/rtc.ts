// One DTLS certificate for all of a page's peer connections. Generating one is what makes a
// new RTCPeerConnection's first createOffer slow (tens of ms); every Publisher and
// Subscriber has its own peer connection, so they share one, made ahead of time.

const MIN_VALIDITY_MS = 3600_000;
let shared: Promise<RTCCertificate | undefined> | undefined;

/** The shared certificate (undefined where it cannot be made: the browser then makes its own). */
export function sharedCertificate(): Promise<RTCCertificate | undefined> {
  if (typeof RTCPeerConnection === 'undefined' || !RTCPeerConnection.generateCertificate) return Promise.resolve(undefined);
  const make = () =>
    RTCPeerConnection.generateCertificate({ name: 'ECDSA', namedCurve: 'P-256' } as EcKeyGenParams).catch(() => undefined);
  shared ??= make();
  return shared.then((cert) => {
    if (cert && cert.expires - Date.now() > MIN_VALIDITY_MS) return cert;
    shared = make();
    return shared;
  });
}
