/**
 * Records the demo capture (demo/lab.pcap) from real traffic: Kamailio as a stateful proxy on
 * 127.0.0.1:5060 and sipp callers and callees on loopback, with tcpdump writing every datagram
 * to or from the proxy's port. The calls: answered (with a short conversation), busy (486),
 * declined (603), refused by the proxy (403 and 503), challenged by the proxy (407, then the
 * INVITE with credentials, answered) and registrations challenged with a 401 and then accepted.
 * They overlap over about 40 s, which is one pass of `--demo`.
 *
 *   npx tsx scripts/record-demo.ts [output]      (default demo/lab.pcap; needs root for tcpdump)
 *
 * Needs kamailio, sipp (sip-tester), tcpdump and port 5060 free on 127.0.0.1 (tshark decodes
 * SIP there without being told). docs/demo.md says how the committed file was made.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, startCallees } from '../lab/lab.js';
import { freePort, requireProgram, runProcess, waitFor } from '../lab/processes.js';
import { registerRequest, scenario, send, uacFinal, uacRequest, uasSlow } from '../lab/sipp.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const output = resolve(process.argv[2] ?? join(root, 'demo/lab.pcap'));
const PROXY_PORT = 5060;
const PASSWORD = 'demo-secret';

/**
 * The proxy: relays `answer` (to a callee that rings and then answers), `busy` and `decline` to the sipp callees of those names, asks
 * `challenge` calls for credentials (407) and relays them to the answering callee once given,
 * refuses `forbidden` (403) and `overload` (503) itself, challenges each REGISTER (401) and
 * accepts it with credentials. One UDP worker keeps the order of relayed replies.
 */
function proxyConfig(callees: { answer: number; busy: number; decline: number }): string {
  return `#!KAMAILIO
debug=2
log_stderror=yes
memdbg=5
memlog=5
children=1
disable_tcp=yes
auto_aliases=no
listen=udp:127.0.0.1:${PROXY_PORT}

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "auth.so"

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (is_method("ACK")) {
        # An ACK for a non-2xx final is absorbed by its transaction (sl drops those for its own
        # replies); one for a 2xx is relayed below by its request-URI user, as the INVITE was.
        if (t_check_trans()) {
            t_relay();
            exit;
        }
    }
    if (is_method("REGISTER")) {
        if (!pv_www_authenticate("$fd", "${PASSWORD}", "0")) {
            www_challenge("$fd", "0");
            exit;
        }
        append_to_reply("Contact: $ct;expires=300\\r\\n");
        sl_send_reply("200", "OK");
        exit;
    }
    if (is_method("INVITE") && $rU == "challenge") {
        if (!pv_proxy_authenticate("$fd", "${PASSWORD}", "0")) {
            proxy_challenge("$fd", "0");
            exit;
        }
        consume_credentials();
    }
    if ($rU == "answer" || $rU == "challenge") {
        $du = "sip:127.0.0.1:${callees.answer}";
    } else if ($rU == "busy") {
        $du = "sip:127.0.0.1:${callees.busy}";
    } else if ($rU == "decline") {
        $du = "sip:127.0.0.1:${callees.decline}";
    } else if ($rU == "overload") {
        sl_send_reply("503", "Service Unavailable");
        exit;
    } else {
        sl_send_reply("403", "Forbidden");
        exit;
    }
    if (!t_relay()) {
        sl_reply_error();
    }
    exit;
}
`;
}

const CREDENTIALS = { username: 'challenge', password: PASSWORD };

/** An INVITE the proxy challenges: 407, ACK, the INVITE again with credentials, answered, then BYE. */
const UAC_CHALLENGED = scenario(
  'uac challenged',
  `  ${send(uacRequest('INVITE', { sdp: true }), ' retrans="500"')}
  <recv response="407" auth="true"></recv>
  ${send(uacRequest('ACK', { branch: '[branch-2]', toTag: true, contact: false }))}
  ${send(uacRequest('INVITE', { cseq: 2, auth: CREDENTIALS, sdp: true }), ' retrans="500"')}
  <recv response="100" optional="true"></recv>
  <recv response="180" optional="true"></recv>
  <recv response="200"></recv>
  ${send(uacRequest('ACK', { cseq: 2, toTag: true, contact: false }))}
  <pause milliseconds="2000"/>
  ${send(uacRequest('BYE', { cseq: 3, toTag: true, contact: false }), ' retrans="500"')}
  <recv response="200"></recv>`,
);

/** A REGISTER the proxy challenges (401), sent again with credentials and accepted (200). */
const UAC_REGISTER_CHALLENGED = scenario(
  'register challenged',
  `  ${send(registerRequest(), ' retrans="500"')}
  <recv response="401" auth="true"></recv>
  ${send(registerRequest(2, { username: 'alice', password: PASSWORD }), ' retrans="500"')}
  <recv response="200"></recv>`,
);

/**
 * The mix: [name, scenario (null: sipp's built-in uac), request-URI user, calls, seconds between
 * two calls]. All callers start together, so the outcomes interleave over about 40 s.
 */
const MIX: Array<[string, string | null, string, number, number]> = [
  ['answered', null, 'answer', 12, 3],
  ['busy', uacFinal(486), 'busy', 4, 9],
  ['declined', uacFinal(603), 'decline', 3, 12],
  ['forbidden', uacFinal(403), 'forbidden', 2, 18],
  ['overloaded', uacFinal(503), 'overload', 3, 12],
  ['challenged', UAC_CHALLENGED, 'challenge', 4, 9],
  ['register', UAC_REGISTER_CHALLENGED, 'alice', 3, 12],
];

function startTcpdump(tcpdump: string, file: string): Promise<ChildProcess> {
  const child = spawn(tcpdump, ['-i', 'lo', '-n', '-U', '-w', file, 'udp', 'port', String(PROXY_PORT)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`tcpdump exited ${code}: ${err}`)));
  });
}

const lab = new Lab();
let tcpdump: ChildProcess | null = null;
try {
  const kamailio = requireProgram('kamailio', 'kamailio');
  const sipp = requireProgram('sipp', 'sip-tester');
  const tcpdumpPath = requireProgram('tcpdump', 'tcpdump');
  const callees = await startCallees(lab);
  // Answered calls ring for 300 ms and are answered 1.2 s later, so the delays are not all zero.
  callees.answer = await freePort();
  writeFileSync(join(lab.dir, 'uas-slow.xml'), uasSlow(300, 1200));
  lab.start('uas-slow', sipp, [
    '-sf',
    join(lab.dir, 'uas-slow.xml'),
    '-i',
    '127.0.0.1',
    '-p',
    String(callees.answer),
    '-nostdin',
    '-trace_err',
  ]);
  const cfg = join(lab.dir, 'proxy.cfg');
  writeFileSync(cfg, proxyConfig(callees));
  if ((await runProcess(lab.dir, 'proxy-check', kamailio, ['-c', '-f', cfg], 20_000)) !== 0)
    throw new Error(`kamailio rejected ${cfg}`);
  const proxy = lab.start('proxy', kamailio, ['-f', cfg, '-DD', '-E', '-P', join(lab.dir, 'proxy.pid')]);
  await waitFor('the proxy to bind', () => proxy.log().includes('SO_RCVBUF is finally'), 15_000);
  tcpdump = await startTcpdump(tcpdumpPath, output);
  const runs = MIX.map(async ([name, xml, user, calls, every]) => {
    const scenario = xml === null ? ['-sn', 'uac'] : ['-sf', join(lab.dir, `${name}.xml`)];
    if (xml !== null) writeFileSync(join(lab.dir, `${name}.xml`), xml);
    const code = await runProcess(
      lab.dir,
      `uac-${name}`,
      sipp,
      [
        ...scenario,
        '-s',
        user,
        `127.0.0.1:${PROXY_PORT}`,
        '-i',
        '127.0.0.1',
        '-p',
        String(await freePort()),
        '-m',
        String(calls),
        '-r',
        '1',
        '-rp',
        String(every * 1000),
        // an answered call of sipp's built-in uac talks this long before its BYE
        '-d',
        '4000',
        '-nostdin',
        '-timeout',
        '90',
        '-trace_err',
      ],
      120_000,
    );
    if (code !== 0) throw new Error(`sipp ${name} exited ${code}; see ${join(lab.dir, `uac-${name}.log`)}`);
  });
  await Promise.all(runs);
  // The last retransmissions and ACKs settle before the capture closes.
  await new Promise((r) => setTimeout(r, 1000));
  const done = new Promise((r) => tcpdump?.once('exit', r));
  tcpdump.kill('SIGINT');
  await done;
  tcpdump = null;
  process.stdout.write(`recorded ${output} (${statSync(output).size} bytes); logs in ${lab.dir}\n`);
  await lab.stop();
} catch (err) {
  process.stderr.write(`record-demo: ${(err as Error).message}\n${lab.logs()}\n`);
  tcpdump?.kill('SIGINT');
  await lab.stop();
  process.exit(1);
}
