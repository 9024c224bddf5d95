import { runInProcess } from './inprocess.js';
import { runUdp } from './udp.js';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const which = process.argv[2] ?? 'all';

if (which === 'all' || which === 'inprocess') {
  const r = runInProcess();
  console.log('HEP in-process (decode + scan + dedupe + count, one core, distinct realistic 200 OK packets)');
  console.log(`  sip-response-exporter : ${fmt(r.ours)} msg/s`);
  console.log(`  hep-js + regex        : ${fmt(r.baseline)} msg/s`);
  console.log(`  ratio                 : ${r.ratio.toFixed(1)}x`);
  console.log(`  heap growth           : ${r.heapGrowthMb.toFixed(1)} MB`);
}
if (which === 'all' || which === 'udp') {
  const r = await runUdp();
  console.log(
    `HEP over UDP end to end (${fmt(r.rate)} packets/s offered for ${r.seconds}s, every packet a distinct response, dedupe on)`,
  );
  console.log(`  sent by blaster             : ${fmt(r.sent)}`);
  console.log(`  do-nothing Node receiver    : ${fmt(r.nullReceived)} received`);
  console.log(
    `  exporter counted            : ${fmt(r.exporterCounted)} responses (${fmt(r.exporterPackets)} packets, ${fmt(r.exporterDrops)} kernel drops)`,
  );
  console.log(`  ratio exporter / do-nothing : ${r.ratio.toFixed(3)}`);
  console.log(`  exporter peak RSS           : ${r.peakRssMb.toFixed(0)} MB`);
}
