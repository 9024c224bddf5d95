#!/usr/bin/env bash
# Installs the real peers the test suite talks to, from Debian's packages:
#   promtool (package prometheus)  checks the /metrics exposition
#   logger   (package bsdutils)    sends syslog the way operators do
#   rsyslogd (package rsyslog)     forwards syslog over UDP and TCP, privately started by the tests
#   openssl  (package openssl)     makes throwaway certificates for the TLS tests
#   kamailio (package kamailio)    the proxy of the end-to-end lab
#   sipp     (package sip-tester)  the lab's callers and callees
#   prometheus                     the lab scrapes the exporter with a real server
#   docker-compose                 checks the compose stack (docker-compose config needs no engine)
#   systemd-analyze (systemd)      rates the hardening of the systemd unit
#   g++, make, python3             build the native UDP addon (npm ci) and its AddressSanitizer twin
#   tcpdump                        writes the real captures the capture readers are checked against
#   tshark   (package tshark)      the reference dissector the capture readers must agree with;
#                                  its editcap and mergecap rewrite captures as pcapng and nanosecond pcap
#   sngrep                         reads captures the way operators look at SIP, and writes its own
#   kubectl                        renders the kustomization; it ships with the machine image here,
#                                  elsewhere install it from the Kubernetes or Google Cloud apt repository
# Runs apt-get only when something is missing; needs root or sudo for that.
set -euo pipefail

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v kamailio >/dev/null 2>&1 || need+=(kamailio)
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v kubectl >/dev/null 2>&1 || echo "test peers: kubectl is missing; the Kubernetes tests will fail until it is installed" >&2
command -v logger >/dev/null 2>&1 || need+=(bsdutils)
command -v rsyslogd >/dev/null 2>&1 || need+=(rsyslog)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
# npm ci builds the native UDP addon with node-gyp; the suite tests it, once under AddressSanitizer.
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v editcap >/dev/null 2>&1 || need+=(tshark)
command -v mergecap >/dev/null 2>&1 || need+=(tshark)
command -v sngrep >/dev/null 2>&1 || need+=(sngrep)

if [ ${#need[@]} -eq 0 ]; then
  echo "test peers: all present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "test peers: installing ${need[*]}"
$sudo apt-get update -q
# Without this preseed the tshark install stops to ask whether non-root users may capture.
if [[ " ${need[*]} " == *" tshark "* ]]; then
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
fi
# Services stay down: the tests start their own private instances.
DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
