import { ConfigError } from '../../src/errors.js';

/** The error of class `type` that `fn` throws; anything else it throws, or its returning, fails the test. */
export function thrown<E>(type: abstract new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error(`expected a ${type.name}`);
}

/** The ConfigError `fn` throws. */
export function errorOf(fn: () => unknown): ConfigError {
  return thrown(ConfigError, fn);
}
