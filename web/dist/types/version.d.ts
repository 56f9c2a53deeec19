/** The SDK's version. */
export declare const VERSION = "0.1.0";
/** How the SDK names itself to the server. */
export declare const SDK_NAME = "parlor-web";
