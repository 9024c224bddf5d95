import { CODE, type Code } from '../errors.js';
import type { ListenAddress } from '../ingest/listen-address.js';
import { closestKey } from './load.js';
import { ENV_PREFIX, envName, OPTIONS } from './options.js';
import type { Config } from './schema.js';

export interface ConfigWarning {
  code: Code;
  message: string;
}

/** Settings that are valid but almost certainly not what was meant. */
export function configWarnings(config: Config): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  const off = (address: ListenAddress | null) => address === null;
  const tls = config.syslog.tls;
  if (off(config.hep.listen_address) && off(config.syslog.listen_address) && off(tls.listen_address)) {
    warnings.push({
      code: CODE.SRE_WARN_NO_LISTENERS,
      message:
        'hep.listen_address, syslog.listen_address and syslog.tls.listen_address are all empty: nothing will be counted',
    });
  }
  const given = (['cert_file', 'key_file', 'client_ca_file'] as const).filter((key) => tls[key] !== '');
  if (off(tls.listen_address) && given.length > 0) {
    warnings.push({
      code: CODE.SRE_WARN_TLS_UNUSED,
      message: `${given.map((key) => `syslog.tls.${key}`).join(', ')} ${given.length > 1 ? 'are' : 'is'} set but syslog.tls.listen_address is empty, so no TLS listener uses ${given.length > 1 ? 'them' : 'it'}; set --syslog.tls.listen-address (for example ":6514")`,
    });
  }
  if (off(config.hep.listen_address) && config.hep.forward_address.length > 0) {
    warnings.push({
      code: CODE.SRE_WARN_HEP_FORWARD_UNUSED,
      message:
        'hep.forward_address is set but hep.listen_address is empty, so there is no HEP to forward; set --hep.listen-address (for example ":9060")',
    });
  }
  const hidden = peersWarning(config);
  if (hidden !== null) warnings.push(hidden);
  return warnings;
}

/** Entries of `peers` that earlier entries hide completely, or null; also logged on reload. */
export function peersWarning(config: Config): ConfigWarning | null {
  const names = config.peers.unreachable;
  if (names.length === 0) return null;
  const shown = names.slice(0, 20).join(', ') + (names.length > 20 ? ` and ${names.length - 20} more` : '');
  return {
    code: CODE.SRE_WARN_PEER_HIDDEN,
    message: `peers entries ${shown} can never match: entries listed before them cover every address and port they list; move the narrower entry first`,
  };
}

/** Variables under the prefix that are not options: the systemd unit's extra flags, the image's commit. */
const OTHER_ENV = new Set([`${ENV_PREFIX}ARGS`, `${ENV_PREFIX}REVISION`]);

/**
 * An environment variable under the prefix that sets nothing is silently ignored by loading, so
 * a misspelt one would leave its option at the default; name it, with the variable meant.
 */
export function environmentWarnings(env: Readonly<Record<string, string | undefined>>): ConfigWarning[] {
  const known = OPTIONS.map(envName);
  const warnings: ConfigWarning[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX) || OTHER_ENV.has(name) || known.includes(name)) continue;
    // Matched without the prefix, so that the shared prefix does not make everything look close.
    const meant = closestKey(
      name.slice(ENV_PREFIX.length),
      known.map((k) => k.slice(ENV_PREFIX.length)),
    );
    warnings.push({
      code: CODE.SRE_WARN_UNKNOWN_ENV,
      message: `${name} is not an option and is ignored${meant === undefined ? '' : `; did you mean ${ENV_PREFIX}${meant}?`}`,
    });
  }
  return warnings;
}
