import { ConfigError } from '../../src/errors.js';

/** The ConfigError `fn` throws; anything else it throws, or its returning, fails the test. */
export function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
