// Console logging behind OT.setLogLevel (OT.NONE … OT.DEBUG), as in OpenTok.js.

export const LogLevel = { NONE: 0, ERROR: 1, WARN: 2, INFO: 3, LOG: 4, DEBUG: 5 } as const;

let level: number = LogLevel.WARN;

export const logger = {
  setLevel(l: number): void {
    level = l;
  },
  getLevel(): number {
    return level;
  },
  error(...args: unknown[]): void {
    if (level >= LogLevel.ERROR) console.error('Parlor:', ...args);
  },
  warn(...args: unknown[]): void {
    if (level >= LogLevel.WARN) console.warn('Parlor:', ...args);
  },
  info(...args: unknown[]): void {
    if (level >= LogLevel.INFO) console.info('Parlor:', ...args);
  },
  log(...args: unknown[]): void {
    if (level >= LogLevel.LOG) console.log('Parlor:', ...args);
  },
  debug(...args: unknown[]): void {
    if (level >= LogLevel.DEBUG) console.debug('Parlor:', ...args);
  },
};
