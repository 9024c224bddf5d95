/** How tests run the real command line: node's arguments before the exporter's own. */
export const CLI = ['--import', 'tsx', 'src/cli.ts'];

/**
 * Every listener on a kernel-chosen loopback port. A test that starts the exporter passes these
 * (later flags win), so it never binds the defaults 9060, 5514 and 9467, which a developer's own
 * exporter or another test run may hold.
 */
export const FREE_PORTS = [
  '--web.listen-address',
  '127.0.0.1:0',
  '--hep.listen-address',
  '127.0.0.1:0',
  '--syslog.listen-address',
  '127.0.0.1:0',
];
