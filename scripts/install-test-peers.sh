#!/usr/bin/env bash
# Installs the real peers the test suite talks to, from Debian's packages:
#   promtool (package prometheus)  checks the /metrics exposition
#   logger   (package bsdutils)    sends syslog the way operators do
#   rsyslogd (package rsyslog)     forwards syslog over UDP and TCP, privately started by the tests
#   openssl  (package openssl)     makes throwaway certificates for the TLS tests
#   kamailio (package kamailio)    the proxy of the end-to-end lab
#   sipp     (package sip-tester)  the lab's callers and callees
#   prometheus                     the lab scrapes the exporter with a real server
# Runs apt-get only when something is missing; needs root or sudo for that.
set -euo pipefail

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v kamailio >/dev/null 2>&1 || need+=(kamailio)
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v logger >/dev/null 2>&1 || need+=(bsdutils)
command -v rsyslogd >/dev/null 2>&1 || need+=(rsyslog)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)

if [ ${#need[@]} -eq 0 ]; then
  echo "test peers: all present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "test peers: installing ${need[*]}"
$sudo apt-get update -q
# Services stay down: the tests start their own private instances.
DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
