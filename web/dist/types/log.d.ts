export declare const LogLevel: {
    readonly NONE: 0;
    readonly ERROR: 1;
    readonly WARN: 2;
    readonly INFO: 3;
    readonly LOG: 4;
    readonly DEBUG: 5;
};
export declare const logger: {
    setLevel(l: number): void;
    getLevel(): number;
    error(...args: unknown[]): void;
    warn(...args: unknown[]): void;
    info(...args: unknown[]): void;
    log(...args: unknown[]): void;
    debug(...args: unknown[]): void;
};
