// The public API of beamstate. Everything a user may import is listed here, and nothing else.
export { BeamstateError, isBeamstateError } from './errors.js';
export type { Logger, LoggerOptions, LogLevel } from './logger.js';
export { createLogger, defaultLogger, logLevelValues, silentLogger } from './logger.js';
export * from './actors/index.js';
export * from './supervisor/index.js';
export * from './persistence/index.js';
export * from './entities/index.js';
export * from './gateway/index.js';
export * from './cluster/index.js';
