// The SDK's name and version, as the OT namespace shows them and as `connect` tells the
// server (the Inspector lists each connection's SDK).

/** The SDK's version. */
export const VERSION = '0.1.0';

/** How the SDK names itself to the server. */
export const SDK_NAME = 'parlor-web';
