import { Command, Option } from 'commander';
import { DEFAULT_HEP_PORT } from '../capture/index.js';
import { parseDuration } from '../config/duration.js';
import { loadConfig } from '../config/load.js';
import { envName, OPTIONS, type OptionSpec } from '../config/options.js';
import { CODE, SreError } from '../errors.js';
import {
  formatJson,
  formatTable,
  OUTPUT_FORMATS,
  type OutputFormat,
  summarize,
  summaryLine,
  writeOpenMetrics,
} from './output.js';
import { DEFAULT_REPLAY_NODE, DEFAULT_REPLAY_STEP_MS, replayFiles } from './replay.js';

/**
 * The daemon's options that change what a replay counts: dedupe, node naming, the series cap,
 * the call KPIs and the HEP keys that decide whether a packet counts. Listener, web, log and
 * ingest options have nothing to act on in a replay and are not offered.
 */
const COUNTING_SECTIONS = new Set(['dedupe', 'nodes', 'metrics', 'kpi']);
const COUNTING_FLAGS = new Set(['hep.auth-key', 'hep.max-inflated-size']);
export const REPLAY_CONFIG_OPTIONS: readonly OptionSpec[] = OPTIONS.filter(
  (spec) => COUNTING_SECTIONS.has(spec.path[0]) || COUNTING_FLAGS.has(spec.flag),
);

/** Progress on stderr only for files at least this large, and at most this often. */
const PROGRESS_MIN_BYTES = 16 << 20;
const PROGRESS_EVERY_MS = 250;

function usage(message: string): SreError {
  return new SreError(CODE.SRE_ERR_REPLAY_USAGE, message);
}

function parsePorts(text: string): number[] {
  const ports = text.split(',').map((p) => p.trim());
  const out: number[] = [];
  for (const p of ports) {
    if (p === '') continue;
    const n = Number(p);
    if (!/^\d+$/.test(p) || n < 1 || n > 65535)
      throw usage(`--replay.hep-ports: "${p}" is not a port (1-65535)`);
    out.push(n);
  }
  return out;
}

/** A progress line on stderr, redrawn in place, for a terminal only. */
function progress(stream: NodeJS.WriteStream): {
  update: (file: string, read: number, size: number) => void;
  done: () => void;
} {
  let last = 0;
  let shown = false;
  return {
    update(file, read, size) {
      if (size < PROGRESS_MIN_BYTES) return;
      const now = Date.now();
      if (now - last < PROGRESS_EVERY_MS && read < size) return;
      last = now;
      shown = true;
      const percent = size > 0 ? Math.floor((read / size) * 100) : 100;
      stream.write(
        `\rreplay: ${file} ${percent}% (${(read / 2 ** 20).toFixed(0)} of ${(size / 2 ** 20).toFixed(0)} MiB)\u001b[K`,
      );
    },
    done() {
      if (shown) stream.write('\r\u001b[K');
    },
  };
}

/**
 * `sip-response-exporter replay FILE...`: counts the SIP and HEP in capture files as the running
 * exporter would have, and prints the result. `run` receives the command's completion (its exit
 * code), so the caller owns the process's exit.
 */
export function replayCommand(run: (done: Promise<number>) => void): Command {
  const command = new Command('replay')
    .description(
      'Count the SIP and HEP in pcap/pcapng files as the exporter would have, and print the result.',
    )
    .argument('<file...>', 'capture files (pcap or pcapng), read in the order given as one run')
    .helpOption('-h, --help', 'show this help')
    .option(
      '--output <format>',
      `${OUTPUT_FORMATS.join(', ')} [default: table on a terminal, json otherwise]`,
    )
    .option(
      '--replay.node <name>',
      `node label of the raw SIP in the files [default: ${DEFAULT_REPLAY_NODE}]`,
    )
    .option(
      '--replay.hep-ports <ports>',
      `comma-separated UDP ports whose datagrams are HEP [default: ${DEFAULT_HEP_PORT}]`,
    )
    .option('--replay.step <duration>', 'capture time between OpenMetrics samples [default: 15s]')
    .option('--config.file <path>', 'YAML configuration file for the counting options below');
  for (const spec of REPLAY_CONFIG_OPTIONS) {
    const shownDefault = spec.defaultText === '' ? '' : ` [default: ${spec.defaultText}]`;
    const option = new Option(`--${spec.flag} <${spec.valueName}>`, spec.description + shownDefault);
    option.env(envName(spec));
    command.addOption(option);
  }
  command.action((files: string[]) => {
    run(replayMain(command, files));
  });
  return command;
}

async function replayMain(command: Command, files: string[]): Promise<number> {
  const opts = command.opts();
  const flags: Record<string, string> = {};
  for (const spec of REPLAY_CONFIG_OPTIONS) {
    const option = command.options.find((o) => o.long === `--${spec.flag}`)!;
    // The environment reaches loadConfig directly; only real flags are flags.
    if (command.getOptionValueSource(option.attributeName()) === 'cli') {
      flags[spec.flag] = command.getOptionValue(option.attributeName()) as string;
    }
  }
  const config = loadConfig({ file: opts['config.file'] as string | undefined, flags, env: process.env });

  const outputText = opts.output as string | undefined;
  const output: OutputFormat = (outputText ?? (process.stdout.isTTY ? 'table' : 'json')) as OutputFormat;
  if (!OUTPUT_FORMATS.includes(output)) {
    throw usage(`--output: "${outputText}" is not one of ${OUTPUT_FORMATS.join(', ')}`);
  }
  const stepText = opts['replay.step'] as string | undefined;
  const stepMs = stepText === undefined ? DEFAULT_REPLAY_STEP_MS : parseDuration(stepText);
  if (stepMs === undefined || stepMs < 1)
    throw usage(`--replay.step: "${stepText}" is not a duration above 0 (15s, 1m)`);
  // commander camel-cases the part after the last dot: --replay.hep-ports is replay.hepPorts.
  const portsText = opts['replay.hepPorts'] as string | undefined;
  const hepPorts = portsText === undefined ? [DEFAULT_HEP_PORT] : parsePorts(portsText);
  const node = (opts['replay.node'] as string | undefined) ?? DEFAULT_REPLAY_NODE;
  if (node === '') throw usage('--replay.node: a node label cannot be empty');

  const bar = process.stderr.isTTY ? progress(process.stderr) : null;
  let result: Awaited<ReturnType<typeof replayFiles>>;
  try {
    result = await replayFiles(files, {
      config,
      node,
      hepPorts,
      stepMs: output === 'openmetrics' ? stepMs : undefined,
      onProgress: bar?.update,
    });
  } finally {
    bar?.done();
  }
  const summary = summarize(result);
  if (output === 'openmetrics') {
    await writeOpenMetrics(result, process.stdout);
    // The data goes to stdout for promtool; what the replay found goes to stderr.
    process.stderr.write(`${summaryLine(summary, result)}\n`);
  } else {
    process.stdout.write(output === 'json' ? formatJson(summary) : formatTable(summary, result));
  }
  return 0;
}
