/** The shared certificate (undefined where it cannot be made: the browser then makes its own). */
export declare function sharedCertificate(): Promise<RTCCertificate | undefined>;
