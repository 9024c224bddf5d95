import { describe, expect, it } from 'vitest';
import { ArrivalClock } from '../../src/metrics/arrivals.js';

describe('arrival clock', () => {
  it('stamps the tick time on a counter that moved, and keeps it while nothing arrives', () => {
    const clock = new ArrivalClock();
    const udp = { value: 0 };
    const tcp = { value: 0 };
    clock.watch('hep', 'udp', udp);
    clock.watch('hep', 'tcp', tcp);
    clock.tick(1000);
    udp.value += 3;
    clock.tick(2000);
    clock.tick(3000);
    tcp.value++;
    clock.tick(4000);
    const hepUdp = clock.arrival('hep', 'udp');
    expect(hepUdp).toEqual({ packets: 3, lastPacketAt: 2000 });
    expect(clock.arrival('hep', 'tcp').lastPacketAt).toBe(4000);
    expect(clock.arrival('syslog', 'tls')).toEqual({ packets: 0, lastPacketAt: null });
  });
});
