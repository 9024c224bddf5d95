import { createSocket, type Socket } from 'node:dgram';
import fc from 'fast-check';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { Exporter } from '../../src/exporter.js';
import { PROC_NET_UDP_FILES, parseUdpDrops, readUdpDrops } from '../../src/metrics/proc-net-udp.js';
import { sampleValue, startExporter } from '../helpers/exporter.js';
import { hep3 } from '../helpers/hep.js';
import { closeUdp, eventually } from '../helpers/net.js';
import { sipResponse } from '../helpers/sip.js';

/*
 * Captured from a Linux 6.x machine while a socket on 127.0.0.1:0xE49B and one on [::1]:0x9708
 * with a 4 KiB receive buffer were each sent a burst of 50 datagrams of 1000 bytes: 47 dropped.
 * The trailing blanks of the IPv4 table are the kernel's own padding.
 */
const UDP = [
  '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            ',
  '11499: 0100007F:E49B 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 29096 2 00000000ac769994 47        ',
  '14541: 00000000:B07D 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 29099 2 00000000303e2bbe 0         ',
  '',
].join('\n');
const UDP6 = [
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
  '  600: 00000000000000000000000000000000:BA08 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 29098 2 0000000008fe564c 0',
  ' 8024: 00000000000000000000000001000000:9708 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 29097 2 0000000064608feb 47',
  ' 9479: 00000000000000000000000000000000:DCB7 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 29100 2 00000000b1217855 0',
  '',
].join('\n');

describe('/proc/net/udp drops column', () => {
  it('reads drops by local port from real IPv4 and IPv6 tables', () => {
    expect(parseUdpDrops(UDP)).toEqual(
      new Map([
        [0xe49b, 47],
        [0xb07d, 0],
      ]),
    );
    expect(parseUdpDrops(UDP6)).toEqual(
      new Map([
        [0xba08, 0],
        [0x9708, 47],
        [0xdcb7, 0],
      ]),
    );
  });

  it('adds up the sockets that share a port across both tables', () => {
    const sameLine = UDP6.split('\n')[2].replace(':9708 ', ':E49B ');
    const drops = parseUdpDrops(UDP);
    parseUdpDrops(`${UDP6.split('\n')[0]}\n${sameLine}\n`, drops);
    expect(drops.get(0xe49b)).toBe(94);
  });

  it('reads only the header as nothing, and never counts a truncated or foreign line', () => {
    expect(parseUdpDrops(UDP.split('\n')[0])).toEqual(new Map());
    expect(parseUdpDrops('')).toEqual(new Map());
    const truncated = UDP.slice(0, UDP.indexOf('ac769994') + 4);
    expect(parseUdpDrops(truncated)).toEqual(new Map());
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (junk) => {
        for (const [port, drops] of parseUdpDrops(`${UDP}${junk}`)) {
          expect(port).toBeGreaterThanOrEqual(0);
          expect(port).toBeLessThanOrEqual(0xffff);
          expect(Number.isSafeInteger(drops)).toBe(true);
          expect(drops).toBeGreaterThanOrEqual(0);
        }
      }),
    );
  });

  it("reads this machine's tables, and a missing table as no drops", async () => {
    expect(readUdpDrops(['/nonexistent/proc/net/udp'])).toEqual(new Map());
    expect(PROC_NET_UDP_FILES).toEqual(['/proc/net/udp', '/proc/net/udp6']);
    const v4 = createSocket('udp4');
    const v6 = createSocket('udp6');
    try {
      await new Promise<void>((resolve) => v4.bind(0, '127.0.0.1', () => resolve()));
      await new Promise<void>((resolve) => v6.bind(0, '::1', () => resolve()));
      const drops = readUdpDrops();
      expect(drops.get(v4.address().port)).toBe(0);
      expect(drops.get(v6.address().port)).toBe(0);
    } finally {
      await Promise.all([closeUdp(v4), closeUdp(v6)]);
    }
  });
});

let exporter: Exporter | null = null;
let sender: Socket | null = null;
afterEach(async () => {
  if (sender !== null) await closeUdp(sender);
  sender = null;
  await exporter?.stop();
  exporter = null;
});

describe('UDP receive drops on /metrics', () => {
  it('counts what the kernel drops on a small receive buffer: received + drops == sent', async () => {
    exporter = await startExporter({
      'hep.udp-receive-buffer': '4096',
      'syslog.listen-address': '',
    });
    const port = exporter.source('hep').listener!.udpPort;
    const s = createSocket('udp4');
    sender = s;
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
    const packet = hep3({ payload: sipResponse({ code: 200 }) });
    const sent = 400;
    let handed = 0;
    // One synchronous burst: the exporter shares this event loop, so it cannot read until the
    // whole burst is in the kernel, and the kernel drops what the 4 KiB buffer cannot hold.
    for (let i = 0; i < sent; i++) {
      s.send(packet, port, '127.0.0.1', (err) => {
        if (err) throw err;
        handed++;
      });
    }
    const http = request(`http://127.0.0.1:${exporter.httpPort}`);
    const read = async () => {
      const text = (await http.get('/metrics').expect(200)).text;
      return {
        received:
          sampleValue(text, 'sip_exporter_packets_received_total{listener="hep",transport="udp"}') ?? 0,
        drops: sampleValue(text, 'sip_exporter_udp_receive_drops_total{listener="hep"}') ?? -1,
      };
    };
    const seen = await eventually(read, (v) => handed === sent && v.received + v.drops === sent);
    expect(seen.drops).toBeGreaterThan(0);
    expect(seen.received).toBeGreaterThan(0);
  });
});
