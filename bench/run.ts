import { applyV8Flags } from '../src/v8-flags.js';
import { runCallMix } from './call-mix.js';
import { runForward } from './forward.js';
import { runInProcess } from './inprocess.js';
import { soakCompiled } from './kpi-soak.js';
import { runSyslog } from './syslog.js';
import { runUdp, type UdpResult } from './udp.js';

// The in-process figures measure the exporter as the CLI runs it (src/v8-flags.ts); the UDP,
// syslog and forwarding figures run the CLI itself.
applyV8Flags();

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const which = process.argv[2] ?? 'all';

// The KPI memory soak runs for minutes in real time: only on request, never in `all`.
if (which === 'kpi-soak') process.exit(soakCompiled(process.argv.slice(3)));

function printUdp(title: string, r: UdpResult): void {
  console.log(
    `${title} (${fmt(r.rate)}/s offered for ${r.seconds}s, every datagram a distinct response, dedupe on)`,
  );
  console.log(`  do-nothing Node receiver    : ${fmt(r.nullReceived)} of ${fmt(r.sent)} sent`);
  console.log(`  do-nothing batch receiver   : ${fmt(r.nullBatchReceived)} of ${fmt(r.nullBatchSent)} sent`);
  for (const run of [r.batch, r.dgram]) {
    console.log(
      `  exporter, ${run.path.padEnd(5)} path      : ${fmt(run.counted)} counted of ${fmt(run.sent)} sent (${fmt(run.packets)} datagrams read, ${fmt(run.drops)} kernel drops)`,
    );
    console.log(
      `    counted / sent ${run.countedPerSent.toFixed(3)}, / do-nothing ${run.ratio.toFixed(3)}, peak RSS ${run.peakRssMb.toFixed(0)} MB`,
    );
    if (run.warmup.sent > 0)
      console.log(
        `    before it, cold: ${fmt(run.warmup.counted)} counted of ${fmt(run.warmup.sent)} sent in a ${run.warmup.seconds} s warm-up (${fmt(run.warmup.drops)} kernel drops)`,
      );
  }
}

if (which === 'all' || which === 'inprocess') {
  const r = runInProcess();
  console.log(
    'HEP in-process (decode + scan + dedupe + count, one core, distinct realistic 200 OK packets, call KPIs off)',
  );
  console.log(`  sip-response-exporter : ${fmt(r.ours)} msg/s one at a time (dgram, TCP)`);
  console.log(`  in reads of 256       : ${fmt(r.batched)} msg/s (the batched UDP receive)`);
  console.log(`  hep-js + regex        : ${fmt(r.baseline)} msg/s`);
  console.log(`  ratio                 : ${r.ratio.toFixed(1)}x`);
  console.log(`  heap growth           : ${r.heapGrowthMb.toFixed(1)} MB`);
  const m = await runCallMix();
  console.log(
    'HEP in-process call mix (INVITE, 100, 180, 200, ACK, BYE, 200, traced in and out: 14 packets a call)',
  );
  console.log(`  call KPIs off         : ${fmt(m.off)} msg/s`);
  console.log(`  call KPIs on          : ${fmt(m.on)} msg/s`);
  console.log(`  on / off              : ${m.ratio.toFixed(2)}`);
}
if (which === 'all' || which === 'udp')
  for (const r of await runUdp()) printUdp('HEP over UDP end to end', r);
if (which === 'all' || which === 'syslog') {
  const r = await runSyslog();
  console.log(
    `Syslog in-process (header parse + extractors + count, one core, ${fmt(r.lines)} Kamailio lines, 4 in 5 acc)`,
  );
  console.log(`  sip-response-exporter : ${fmt(r.oursPerSecond)} lines/s`);
  if (r.mtail === null) console.log('  mtail                 : not installed (Debian package mtail)');
  else {
    console.log(
      `  mtail --one_shot      : ${fmt(r.mtail.perSecond)} lines/s wall, ${fmt(r.mtail.perCpuSecond)} lines per CPU second (${r.mtail.cpuSeconds.toFixed(2)} CPU s)`,
    );
    console.log(`  ratio per core        : ${(r.oursPerSecond / r.mtail.perCpuSecond).toFixed(2)}x`);
  }
  printUdp('Syslog over UDP end to end', r.udp);
}
if (which === 'all' || which === 'forward') {
  const cpu = (run: { userUsPerPacket: number; systemUsPerPacket: number }) =>
    `exporter CPU per packet read ${run.userUsPerPacket.toFixed(2)} us user + ${run.systemUsPerPacket.toFixed(2)} us system`;
  for (const r of await runForward()) {
    console.log(
      `HEP forwarding to one UDP target (${fmt(r.rate)}/s offered for ${r.seconds}s, every datagram a distinct response)`,
    );
    const b = r.baseline;
    console.log(
      `  no forwarding, batch path    : ${fmt(b.counted)} counted of ${fmt(b.sent)} sent (counted / sent ${(b.counted / b.sent).toFixed(3)})`,
    );
    console.log(`    ${cpu(b)}`);
    for (const run of [r.batch, r.dgram]) {
      console.log(
        `  ${run.path === 'batch' ? 'recvmmsg in, sendmmsg out' : 'dgram in, dgram out      '}    : ${fmt(run.forwarded)} forwarded of ${fmt(run.sent)} sent (${fmt(run.counted)} counted, ${fmt(run.droppedQueueFull)} queue full, ${fmt(run.sendErrors)} send errors, ${fmt(run.targetReceived)} at the target)`,
      );
      console.log(
        `    forwarded / sent ${run.forwardedPerSent.toFixed(3)}, ${cpu(run)}, peak RSS ${run.peakRssMb.toFixed(0)} MB`,
      );
    }
  }
}
