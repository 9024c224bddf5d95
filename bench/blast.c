/*
 * blast: sends a UDP payload at a fixed rate with sendmmsg, so that the sender is never the
 * bottleneck of a receive benchmark. A decimal counter written into each copy at a given
 * offset makes every datagram distinct.
 *
 *   blast HOST PORT RATE SECONDS TEMPLATE_FILE COUNTER_OFFSET COUNTER_WIDTH [SOURCE_PORTS]
 *
 * SOURCE_PORTS (default 1) sockets send in turn, a batch each, so that a receiver's SO_REUSEPORT
 * group (which the kernel spreads by 4-tuple) sees several flows, as from a proxy that traces
 * from several ports or several proxies.
 * Prints the number of datagrams sent.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 8 && argc != 9) {
    fprintf(stderr, "usage: blast HOST PORT RATE SECONDS TEMPLATE COUNTER_OFFSET COUNTER_WIDTH [SOURCE_PORTS]\n");
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  double rate = atof(argv[3]);
  double seconds = atof(argv[4]);
  size_t offset = (size_t)atol(argv[6]);
  int width = atoi(argv[7]);

  FILE *f = fopen(argv[5], "rb");
  if (!f) { perror("template"); return 2; }
  static char template[65536];
  size_t length = fread(template, 1, sizeof template, f);
  fclose(f);
  if (offset + (size_t)width > length) { fprintf(stderr, "counter outside template\n"); return 2; }

  int flows = argc == 9 ? atoi(argv[8]) : 1;
  if (flows < 1 || flows > 64) { fprintf(stderr, "SOURCE_PORTS must be 1 to 64\n"); return 2; }
  struct sockaddr_in to = {0};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  if (inet_pton(AF_INET, host, &to.sin_addr) != 1) { fprintf(stderr, "bad host\n"); return 2; }
  int fds[64];
  for (int i = 0; i < flows; i++) {
    fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
    if (fds[i] < 0) { perror("socket"); return 2; }
    int sndbuf = 4 * 1024 * 1024;
    setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (connect(fds[i], (struct sockaddr *)&to, sizeof to) != 0) { perror("connect"); return 2; }
  }
  unsigned long long batches = 0;

  static char buffers[BATCH][65536];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    memcpy(buffers[i], template, length);
    iov[i].iov_base = buffers[i];
    iov[i].iov_len = length;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  unsigned long long total = (unsigned long long)(rate * seconds);
  unsigned long long sent = 0;
  double start = now_seconds();
  char digits[32];
  while (sent < total) {
    double elapsed = now_seconds() - start;
    unsigned long long due = (unsigned long long)(elapsed * rate);
    if (due > total) due = total;
    if (due <= sent) {
      struct timespec pause = {0, 20000};
      nanosleep(&pause, NULL);
      continue;
    }
    int n = (int)((due - sent) < BATCH ? (due - sent) : BATCH);
    for (int i = 0; i < n; i++) {
      snprintf(digits, sizeof digits, "%0*llu", width, sent + i);
      memcpy(buffers[i] + offset, digits, (size_t)width);
    }
    int done = sendmmsg(fds[batches++ % (unsigned long long)flows], msgs, (unsigned)n, 0);
    if (done < 0) {
      struct timespec pause = {0, 50000};
      nanosleep(&pause, NULL);
      continue;
    }
    sent += (unsigned long long)done;
  }
  printf("%llu\n", sent);
  return 0;
}
