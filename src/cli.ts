#!/usr/bin/env node
import { Command, Option } from 'commander';
import { configWarnings, environmentWarnings } from './config/check.js';
import { loadConfig } from './config/load.js';
import { envName, OPTIONS } from './config/options.js';
import { type DemoOptions, MAX_DEMO_SPEED } from './demo/source.js';
import { CODE, SreError } from './errors.js';
import { Exporter } from './exporter.js';
import { loadWebConfig } from './http/web-config.js';
import { createLogger } from './logger.js';
import { replayCommand } from './replay/command.js';
import { applyV8Flags } from './v8-flags.js';
import { VERSION } from './version.js';

/** How long a stop may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 5_000;

function buildProgram(): Command {
  const program = new Command('sip-response-exporter')
    .description('Counts SIP responses from HEP capture and syslog and serves them to Prometheus.')
    .version(VERSION, '--version', 'print the version and exit')
    .helpOption('-h, --help', 'show this help')
    .option(
      '--config.file <path>',
      'YAML configuration file (flags win over it, and the environment over it)',
    )
    .option('--config.check', 'validate the configuration and exit')
    .option(
      '--demo',
      'play the bundled lab capture in a loop as live traffic, as node="demo" (listeners left at their default address stay off)',
    )
    .option('--demo.speed <factor>', 'with --demo, play this many times faster than real time [default: 1]')
    .addHelpText(
      'after',
      `\nEvery option can also be set in the environment (${envName(OPTIONS[0])}, ...) or in the config file.\n`,
    )
    .allowExcessArguments(false)
    // Options after `replay` are the subcommand's, though some share a name with the daemon's.
    .enablePositionalOptions();
  for (const spec of OPTIONS) {
    const shownDefault = spec.defaultText === '' ? '' : ` [default: ${spec.defaultText}]`;
    const option = new Option(`--${spec.flag} <${spec.valueName}>`, spec.description + shownDefault);
    option.env(envName(spec));
    program.addOption(option);
  }
  return program;
}

/** Packets received per listener and transport since start, as sip_exporter_packets_received_total has them. */
function receivedPackets(exporter: Exporter): Record<string, Record<string, number>> {
  return Object.fromEntries(exporter.sources.map((source) => [source.name, source.packetsReceived()]));
}

/** --demo and --demo.speed; undefined without --demo. */
function demoOptions(opts: Record<string, unknown>): DemoOptions | undefined {
  const speedText = opts['demo.speed'] as string | undefined;
  if (!opts.demo) {
    if (speedText !== undefined) throw new SreError(CODE.SRE_ERR_CONFIG, '--demo.speed needs --demo');
    return undefined;
  }
  const speed = speedText === undefined ? 1 : Number(speedText);
  if (!(speed > 0 && speed <= MAX_DEMO_SPEED) || speedText?.trim() === '')
    throw new SreError(
      CODE.SRE_ERR_CONFIG,
      `--demo.speed: "${speedText}" is not a number above 0 and at most ${MAX_DEMO_SPEED}`,
    );
  return { speed };
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  let subcommand: Promise<number> | null = null;
  program.addCommand(replayCommand((done) => (subcommand = done)));
  // The daemon is the command without a subcommand; an action keeps commander from asking for one.
  program.action(() => {});
  program.parse(argv);
  if (subcommand !== null) return subcommand;
  const opts = program.opts();
  const flags: Record<string, string | undefined> = {};
  for (const spec of OPTIONS) {
    const option = program.options.find((o) => o.long === `--${spec.flag}`)!;
    // Environment values reach loadConfig directly, so only real flags are passed as flags here.
    if (program.getOptionValueSource(option.attributeName()) === 'cli') {
      flags[spec.flag] = program.getOptionValue(option.attributeName()) as string;
    }
  }
  const configFile = opts['config.file'] as string | undefined;
  const demo = demoOptions(opts);
  let config = loadConfig({ file: configFile, flags, env: process.env });
  if (demo !== undefined) {
    // A newcomer's demo must not fail on a port some other program holds: a listener left at its
    // default address is off. One given by flag, environment or a changed file value stays on.
    const defaults = loadConfig({ env: {} });
    let changed = false;
    for (const [flag, section] of [
      ['hep.listen-address', 'hep'],
      ['syslog.listen-address', 'syslog'],
    ] as const) {
      const option = program.options.find((o) => o.long === `--${flag}`)!;
      const given = program.getOptionValueSource(option.attributeName());
      const same =
        JSON.stringify(config[section].listen_address) === JSON.stringify(defaults[section].listen_address);
      if (given !== 'cli' && given !== 'env' && same) {
        flags[flag] = '';
        changed = true;
      }
    }
    // Kept in `flags`, so that a reload (SIGHUP) keeps them off too.
    if (changed) config = loadConfig({ file: configFile, flags, env: process.env });
  }
  if (opts['config.check']) {
    // Start reads the web config file before binding anything; the check reads it here instead.
    if (config.web.config_file !== undefined) loadWebConfig(config.web.config_file);
    for (const warning of [...environmentWarnings(process.env), ...configWarnings(config)]) {
      process.stderr.write(`sip-response-exporter: warning: ${warning.code}: ${warning.message}\n`);
    }
    process.stdout.write(`configuration OK${configFile ? `: ${configFile}` : ''}\n`);
    return 0;
  }

  const logger = createLogger(config.log.level);
  for (const warning of environmentWarnings(process.env))
    logger.warn({ code: warning.code }, warning.message);
  const exporter = new Exporter(config, logger, { demo });
  await exporter.start();
  logger.info({ version: VERSION, node: process.version }, 'sip-response-exporter started');

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      // A second signal while stopping changes nothing: the grace timer already bounds the stop.
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      // Not unref'd: should the stop hang on nothing that keeps the process alive, this timer
      // still ends it with the error instead of a silent exit 0.
      const timer = setTimeout(() => {
        logger.error({ code: CODE.SRE_ERR_SHUTDOWN_TIMEOUT }, 'stop took too long; exiting');
        resolve(1);
      }, SHUTDOWN_GRACE_MS);
      exporter.stop().then(
        () => {
          clearTimeout(timer);
          // The last counts, after the TCP drain: what arrived since the last scrape is not lost
          // to the operator even though /metrics is gone.
          logger.info({ packets: receivedPackets(exporter) }, 'stopped');
          resolve(0);
        },
        (err: unknown) => {
          clearTimeout(timer);
          logger.error({ code: CODE.SRE_ERR_SHUTDOWN, err }, 'error while stopping');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', () => {
      try {
        const next = loadConfig({ file: configFile, flags, env: process.env });
        const restart = exporter.reload(next);
        exporter.self.recordReload(true);
        logger.info({ file: configFile ?? null }, 'configuration reloaded');
        if (restart.length > 0) {
          logger.warn(
            { code: CODE.SRE_WARN_RELOAD_NEEDS_RESTART, keys: restart },
            'these changes take effect only after a restart',
          );
        }
      } catch (err) {
        exporter.self.recordReload(false);
        const code = err instanceof SreError ? err.code : CODE.SRE_ERR_RELOAD;
        logger.error(
          { code, err: (err as Error).message },
          'configuration reload failed; the old configuration stays',
        );
      }
    });
  });
}

// Before anything is hot enough to be optimised.
applyV8Flags();

main(process.argv).then(
  (code) => {
    process.exitCode = code;
    // Sockets are closed; anything still pending (a stuck peer) must not keep the process up.
    setTimeout(() => process.exit(code), 100).unref();
  },
  (err: unknown) => {
    if (err instanceof SreError) process.stderr.write(`sip-response-exporter: ${err.code}: ${err.message}\n`);
    else {
      // An operator gets one coded line even for the unforeseen; where it came from stays in it.
      const where = /\n\s+at (.*)/.exec((err as Error)?.stack ?? '')?.[1];
      const message = (err as Error)?.message ?? String(err);
      process.stderr.write(
        `sip-response-exporter: ${CODE.SRE_ERR_START}: ${message.replace(/\s*\n\s*/g, '; ')}${where ? ` (at ${where})` : ''}\n`,
      );
    }
    process.exit(2);
  },
);
