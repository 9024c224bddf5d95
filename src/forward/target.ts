import { isIP } from 'node:net';

/** Where forwarded HEP goes: one receiver, as given in `hep.forward_address`. */
export interface ForwardTarget {
  /** a host name or an IP address (IPv6 without brackets) */
  host: string;
  port: number;
  /** as the operator wrote it, normalised: the `target` label of the forwarding metrics */
  text: string;
}

export type ForwardTransport = 'udp' | 'tcp';

/**
 * Parses one `host:port` or `[ipv6]:port`. Unlike a listen address, the host is required (there
 * is no "every interface" to send to) and the port cannot be 0. Returns the target, or a message
 * saying what is wrong with it.
 */
export function parseForwardTarget(input: string): ForwardTarget | string {
  const value = input.trim();
  if (value === '') return 'an empty target; write host:port';
  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0 || value[close + 1] !== ':') return `"${input}" is not [ipv6]:port`;
    host = value.slice(1, close);
    portText = value.slice(close + 2);
    if (isIP(host) !== 6) return `"${host}" is not an IPv6 address`;
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0) return `"${input}" has no port (write host:port)`;
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(':')) return `write an IPv6 address in brackets, as [${host}]:port`;
    if (host === '')
      return `"${input}" has no host (write host:port; there is no "every interface" to send to)`;
    // A name is looked up when the forwarder starts; what cannot be a name is refused now.
    if (
      isIP(host) === 0 &&
      !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(host)
    )
      return `"${host}" is neither an IP address nor a host name`;
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)
    return `"${portText}" is not a port number (1-65535)`;
  const port = Number(portText);
  return { host, port, text: isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

/**
 * Parses the whole list: YAML gives a list (or one string), a flag or the environment one string
 * with targets separated by commas. A target listed twice would get every packet twice, so it
 * is refused. Returns the targets, or the messages for each bad one.
 */
export function parseForwardTargets(value: string | readonly string[]): ForwardTarget[] | string[] {
  const items = typeof value === 'string' ? (value.trim() === '' ? [] : value.split(',')) : value;
  const targets: ForwardTarget[] = [];
  const errors: string[] = [];
  for (const item of items) {
    const target = parseForwardTarget(item);
    if (typeof target === 'string') errors.push(target);
    else if (targets.some((t) => t.text === target.text)) errors.push(`${target.text} is listed twice`);
    else targets.push(target);
  }
  return errors.length > 0 ? errors : targets;
}
