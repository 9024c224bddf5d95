import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';

export interface ListenAddress {
  /** undefined: every interface */
  host: string | undefined;
  port: number;
}

/**
 * Parses `host:port`, `[v6]:port` or `:port` as Prometheus exporters write listen addresses.
 * An empty string disables the listener (null).
 */
export function parseListenAddress(text: string, key: string): ListenAddress | null {
  const value = text.trim();
  if (value === '') return null;
  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0 || value[close + 1] !== ':') throw new ConfigError(`${key}: "${text}" is not [ipv6]:port`);
    host = value.slice(1, close);
    portText = value.slice(close + 2);
    if (isIP(host) !== 6) throw new ConfigError(`${key}: "${host}" is not an IPv6 address`);
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0) {
      const hint = /^\d+$/.test(value) ? `; for every interface write ":${value}"` : '';
      throw new ConfigError(`${key}: "${text}" has no port (write host:port or :port)${hint}`);
    }
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(':'))
      throw new ConfigError(`${key}: write an IPv6 address in brackets, as [${host}]:port`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new ConfigError(`${key}: "${portText}" is not a port number (0-65535)`);
  }
  return { host: host === '' ? undefined : host, port: Number(portText) };
}

export function formatListenAddress(address: ListenAddress): string {
  const host = address.host ?? '';
  return isIP(host) === 6 ? `[${host}]:${address.port}` : `${host}:${address.port}`;
}
