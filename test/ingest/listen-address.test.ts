import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { formatListenAddress, parseListenAddress } from '../../src/ingest/listen-address.js';

describe('listen addresses', () => {
  it('parses the forms exporters use', () => {
    expect(parseListenAddress(':9060', 'k')).toEqual({ host: undefined, port: 9060 });
    expect(parseListenAddress('127.0.0.1:0', 'k')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListenAddress('[::1]:9467', 'k')).toEqual({ host: '::1', port: 9467 });
    expect(parseListenAddress('localhost:80', 'k')).toEqual({ host: 'localhost', port: 80 });
    expect(parseListenAddress('  ', 'k')).toBeNull();
  });

  it('rejects what it cannot bind, naming the key', () => {
    for (const bad of ['9060', 'host:', ':65536', '::1:9060', '[::1]9060', '[nothost]:1', ':-1']) {
      expect(() => parseListenAddress(bad, 'hep.listen_address'), bad).toThrow(ConfigError);
      expect(() => parseListenAddress(bad, 'hep.listen_address'), bad).toThrow(/^hep\.listen_address: /);
    }
  });

  it('formats back with brackets for IPv6', () => {
    expect(formatListenAddress({ host: '::1', port: 1 })).toBe('[::1]:1');
    expect(formatListenAddress({ host: undefined, port: 2 })).toBe(':2');
  });
});
