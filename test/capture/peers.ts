import { execFileSync } from 'node:child_process';
import { readCaptureFile } from '../../src/capture/index.js';
import { requirePeer } from '../helpers/peers.js';

/** tshark and the capture tools; missing ones fail the test with an install hint. */
export function captureTools(): { tshark: string; editcap: string; mergecap: string; tcpdump: string } {
  return {
    tshark: requirePeer('tshark', 'tshark'),
    editcap: requirePeer('editcap', 'tshark'),
    mergecap: requirePeer('mergecap', 'tshark'),
    tcpdump: requirePeer('tcpdump', 'tcpdump'),
  };
}

export function run(program: string, args: string[]): string {
  return execFileSync(program, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 20_000,
  });
}

/** "-d udp.port==P,sip" for each port, so tshark dissects SIP on the test's free ports. */
export function decodeAs(udpPorts: number[], tcpPorts: number[]): string[] {
  return [
    ...udpPorts.flatMap((p) => ['-d', `udp.port==${p},sip`]),
    ...tcpPorts.flatMap((p) => ['-d', `tcp.port==${p},sip`]),
  ];
}

/** One line per SIP message tshark finds: "<epoch seconds.nanoseconds> <Call-ID>". */
export function tsharkMessages(tshark: string, file: string, decode: string[]): string[] {
  const out = run(tshark, [
    '-r',
    file,
    ...decode,
    '-Y',
    'sip',
    '-T',
    'fields',
    '-e',
    'frame.time_epoch',
    '-e',
    'sip.Call-ID',
  ]);
  const lines: string[] = [];
  for (const row of out.split('\n')) {
    if (row.trim() === '') continue;
    const [time, ids] = row.split('\t');
    for (const id of ids.split(',')) lines.push(`${time} ${id}`);
  }
  return lines;
}

export interface SipStat {
  messages: number;
  byCode: Record<string, number>;
  byMethod: Record<string, number>;
}

/** Parses `tshark -q -z sip,stat`. */
export function tsharkSipStat(tshark: string, file: string, decode: string[]): SipStat {
  const out = run(tshark, ['-r', file, ...decode, '-q', '-z', 'sip,stat']);
  const stat: SipStat = { messages: -1, byCode: {}, byMethod: {} };
  for (const line of out.split('\n')) {
    const total = /^Number of SIP messages: (\d+)/.exec(line);
    if (total) stat.messages = Number(total[1]);
    const code = /^\s+SIP (\d{3}) .*:\s+(\d+) Packets/.exec(line);
    if (code) stat.byCode[code[1]] = Number(code[2]);
    const method = /^\s+([A-Z]+)\s+:\s+(\d+) Packets/.exec(line);
    if (method) stat.byMethod[method[1]] = Number(method[2]);
  }
  return stat;
}

/** Our reader's view of the same file, in the same shapes. */
export async function ourMessages(
  file: string,
): Promise<{ lines: string[]; stat: SipStat; drops: Float64Array; emitted: number }> {
  const lines: string[] = [];
  const stat: SipStat = { messages: 0, byCode: {}, byMethod: {} };
  const stats = await readCaptureFile(file, (p) => {
    const text = p.payloadCopy().toString('latin1');
    const callId = /^(?:Call-ID|i)[ \t]*:[ \t]*(.*?)\r$/im.exec(text)?.[1] ?? '?';
    lines.push(`${p.tsSec}.${String(p.tsNsec).padStart(9, '0')} ${callId}`);
    stat.messages++;
    const status = /^SIP\/2\.0 (\d{3}) /.exec(text);
    if (status) stat.byCode[status[1]] = (stat.byCode[status[1]] ?? 0) + 1;
    else {
      const method = text.slice(0, text.indexOf(' '));
      stat.byMethod[method] = (stat.byMethod[method] ?? 0) + 1;
    }
  });
  return { lines, stat, drops: stats.drops, emitted: stats.emitted };
}
