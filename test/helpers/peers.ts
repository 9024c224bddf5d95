/**
 * Finds a real peer program (promtool, kamailio, sipp, ...). Without it the test fails with an
 * install hint; it never skips, so CI cannot pass without the peer. The lab uses the same check.
 */
export { requireProgram as requirePeer } from '../../lab/processes.js';
