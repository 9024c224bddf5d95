// Batched UDP receive for the exporter: one recvmmsg per readiness event, one call into
// JavaScript per batch instead of one recvmsg, one Buffer and one callback per datagram, which
// is what caps Node's dgram near 100,000 datagrams/s on one core.
//
// Readiness comes from libuv (uv_poll on the socket), so an idle socket costs nothing and the
// event loop is never blocked: a readiness event reads at most one batch, and uv_poll being
// level-triggered brings us back on the next loop turn when more is queued.
//
// JavaScript owns the memory: it passes one data buffer (slots of SLOT bytes, one per datagram)
// and one Int32Array of per-datagram records, and reads them synchronously inside the callback,
// before the next batch overwrites them. The module is context-aware (N-API), so each worker
// thread loads its own instance and polls on its own loop.

#include <napi.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

// Larger than any UDP payload without IPv6 jumbograms (65,507 over IPv4, 65,527 over IPv6),
// so a datagram never truncates; MSG_TRUNC is still checked and clamped.
constexpr size_t kSlot = 65536;
constexpr size_t kMaxBatch = 1024;
// Per-datagram record in the Int32Array: length, family (4 or 6), port, truncated flag, then
// the address as four 32-bit words in network byte order (IPv4 uses the first word only).
constexpr size_t kRecord = 8;

enum ReusePort { kReuseNone = 0, kReuseFirst = 1, kReuseJoin = 2 };

// Progress words (int64) an ingest worker shares with the thread that orders its output:
// kProgressReading is 1 from just before a recvmmsg until JavaScript has handled its batch (it
// clears it), kProgressReadAt the uv_hrtime (ns) just before the last recvmmsg. JavaScript keeps
// the rest.
constexpr size_t kProgressReading = 0;
constexpr size_t kProgressReadAt = 1;
constexpr size_t kProgressWords = 4;

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + " " + uv_err_name(-err) + ": " + strerror(err));
  e.Set("code", Napi::String::New(env, uv_err_name(-err)));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

bool FillAddress(Napi::Env env, const std::string& host, int port, bool ipv6, sockaddr_storage* ss,
                 socklen_t* len) {
  memset(ss, 0, sizeof *ss);
  if (port < 0 || port > 65535) {
    Napi::RangeError::New(env, "port out of range").ThrowAsJavaScriptException();
    return false;
  }
  if (ipv6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) {
      Napi::TypeError::New(env, "not an IPv6 address: " + host).ThrowAsJavaScriptException();
      return false;
    }
    *len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) {
      Napi::TypeError::New(env, "not an IPv4 address: " + host).ThrowAsJavaScriptException();
      return false;
    }
    *len = sizeof *a;
  }
  return true;
}

// A bind without SO_REUSEPORT fails on a port that any socket holds, SO_REUSEPORT or not: the
// check that keeps a second exporter from silently joining our SO_REUSEPORT group and taking
// part of the traffic. Returns 0 or an errno.
int ProbeFree(int family, const sockaddr_storage* ss, socklen_t len, bool ipv6) {
  int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int off = 0;
  if (ipv6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  int err = bind(fd, reinterpret_cast<const sockaddr*>(ss), len) == 0 ? 0 : errno;
  close(fd);
  return err;
}

class UdpBatch : public Napi::ObjectWrap<UdpBatch> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "UdpBatch",
                       {
                           InstanceMethod("start", &UdpBatch::Start),
                           InstanceMethod("close", &UdpBatch::Close),
                           InstanceMethod("sender", &UdpBatch::Sender),
                           InstanceAccessor("port", &UdpBatch::Port, nullptr),
                           InstanceAccessor("receiveBufferSize", &UdpBatch::ReceiveBufferSize, nullptr),
                           InstanceAccessor("fd", &UdpBatch::Fd, nullptr),
                           StaticMethod("queued", &UdpBatch::Queued),
                       });
  }

  // new UdpBatch({ host, port, ipv6, receiveBufferSize, reusePort }, data: Buffer, records: Int32Array)
  // binds at once and throws an errno-coded Error (EADDRINUSE, ...) like dgram does.
  explicit UdpBatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpBatch>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || info.Length() > 4 || !info[0].IsObject() || !info[1].IsBuffer() ||
        !info[2].IsTypedArray()) {
      Napi::TypeError::New(env, "expected (options, Buffer, Int32Array[, BigInt64Array])").ThrowAsJavaScriptException();
      return;
    }
    // Optional progress words for an ingest worker (see kProgress*), in shared memory another
    // thread reads with Atomics.
    if (info.Length() == 4) {
      if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_bigint64_array ||
          info[3].As<Napi::TypedArray>().ElementLength() < kProgressWords) {
        Napi::TypeError::New(env, "progress must be a BigInt64Array of 4").ThrowAsJavaScriptException();
        return;
      }
      Napi::TypedArray progress = info[3].As<Napi::TypedArray>();
      // The raw call: it gives the data of a SharedArrayBuffer-backed array too.
      void* words = nullptr;
      if (napi_get_typedarray_info(env, progress, nullptr, nullptr, &words, nullptr, nullptr) != napi_ok ||
          words == nullptr) {
        Napi::TypeError::New(env, "progress has no memory").ThrowAsJavaScriptException();
        return;
      }
      progress_ = static_cast<int64_t*>(words);
      progressRef_ = Napi::Persistent(progress.As<Napi::Object>());
    }
    Napi::Object opts = info[0].As<Napi::Object>();
    Napi::Buffer<uint8_t> data = info[1].As<Napi::Buffer<uint8_t>>();
    Napi::TypedArray ta = info[2].As<Napi::TypedArray>();
    if (ta.TypedArrayType() != napi_int32_array) {
      Napi::TypeError::New(env, "records must be an Int32Array").ThrowAsJavaScriptException();
      return;
    }
    Napi::Int32Array records = ta.As<Napi::Int32Array>();
    size_t slots = data.Length() / kSlot;
    if (slots > kMaxBatch) slots = kMaxBatch;
    if (slots == 0 || records.ElementLength() < slots * kRecord) {
      Napi::RangeError::New(env, "buffer must hold one 64 KiB slot and records 8 ints per slot")
          .ThrowAsJavaScriptException();
      return;
    }
    Napi::Value hostValue = opts.Get("host");
    Napi::Value portValue = opts.Get("port");
    Napi::Value rcvbufValue = opts.Get("receiveBufferSize");
    Napi::Value reuseValue = opts.Get("reusePort");
    if (!hostValue.IsString() || !portValue.IsNumber() || !rcvbufValue.IsNumber() || !reuseValue.IsNumber()) {
      Napi::TypeError::New(env, "expected { host: string, port, receiveBufferSize, reusePort: number }")
          .ThrowAsJavaScriptException();
      return;
    }
    std::string host = hostValue.As<Napi::String>().Utf8Value();
    int port = portValue.As<Napi::Number>().Int32Value();
    bool ipv6 = opts.Get("ipv6").ToBoolean();
    int rcvbuf = rcvbufValue.As<Napi::Number>().Int32Value();
    int reuse = reuseValue.As<Napi::Number>().Int32Value();
    if (reuse < kReuseNone || reuse > kReuseJoin) {
      Napi::RangeError::New(env, "reusePort must be 0, 1 or 2").ThrowAsJavaScriptException();
      return;
    }

    sockaddr_storage ss;
    socklen_t len = 0;
    if (!FillAddress(env, host, port, ipv6, &ss, &len)) return;
    int family = ipv6 ? AF_INET6 : AF_INET;
    if (reuse == kReuseFirst) {
      int err = ProbeFree(family, &ss, len, ipv6);
      if (err != 0) {
        ErrnoError(env, err, "bind").ThrowAsJavaScriptException();
        return;
      }
    }
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ErrnoError(env, errno, "socket").ThrowAsJavaScriptException();
      return;
    }
    int one = 1, off = 0;
    // Dual stack like dgram's udp6 on '::': IPv4 senders arrive as ::ffff:a.b.c.d.
    if (ipv6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    if (reuse != kReuseNone && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      int err = errno;
      close(fd);
      ErrnoError(env, err, "setsockopt").ThrowAsJavaScriptException();
      return;
    }
    // Before bind, as dgram does; the kernel caps it at net.core.rmem_max and the caller
    // reads back what was granted.
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      int err = errno;
      close(fd);
      ErrnoError(env, err, "bind").ThrowAsJavaScriptException();
      return;
    }
    sockaddr_storage bound;
    socklen_t boundLen = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &boundLen);
    port_ = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                       : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

    fd_ = fd;
    slots_ = slots;
    data_ = data.Data();
    records_ = records.Data();
    dataRef_ = Napi::Persistent(data.As<Napi::Object>());
    recordsRef_ = Napi::Persistent(records.As<Napi::Object>());
    msgs_.resize(slots);
    iov_.resize(slots);
    from_.resize(slots);
    env_ = env;
    cleanupHooked_ = napi_add_env_cleanup_hook(env, &UdpBatch::OnEnvCleanup, this) == napi_ok;
  }

  ~UdpBatch() override {
    // Only reached once JavaScript dropped the object; while polling we hold a reference, so
    // the handle is already closed here unless start() was never called.
    if (cleanupHooked_) napi_remove_env_cleanup_hook(env_, &UdpBatch::OnEnvCleanup, this);
    if (fd_ >= 0) close(fd_);
  }

 private:
  // start(onBatch): onBatch(count) runs once per batch with records filled for `count` datagrams.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0 || polling_) {
      Napi::Error::New(env, polling_ ? "already started" : "closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (info.Length() != 1 || !info[0].IsFunction()) {
      Napi::TypeError::New(env, "expected a function").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      Napi::Error::New(env, "no event loop").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    poll_ = new uv_poll_t;
    int err = uv_poll_init(loop, poll_, fd_);
    if (err != 0) {
      delete poll_;
      poll_ = nullptr;
      ErrnoError(env, -err, "uv_poll_init").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    poll_->data = this;
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
    context_ = new Napi::AsyncContext(env, "UdpBatch");
    err = uv_poll_start(poll_, UV_READABLE, &UdpBatch::OnReadable);
    if (err != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
      callback_.Reset();
      delete context_;
      context_ = nullptr;
      ErrnoError(env, -err, "uv_poll_start").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    polling_ = true;
    // Keeps this object (and the buffers it writes into) alive while the socket is open.
    Ref();
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown(false);
    return info.Env().Undefined();
  }

  // sender(i): the address of datagram i of the current batch as text, as dgram's rinfo.address
  // gives it. JavaScript caches the result, so this runs once per new sender, not per datagram.
  Napi::Value Sender(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "expected an index").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    uint32_t i = info[0].As<Napi::Number>().Uint32Value();
    if (i >= slots_) {
      Napi::RangeError::New(env, "index out of range").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const int32_t* r = records_ + i * kRecord;
    char text[INET6_ADDRSTRLEN] = "";
    if (r[1] == 4)
      inet_ntop(AF_INET, &r[4], text, sizeof text);
    else if (r[1] == 6)
      inet_ntop(AF_INET6, &r[4], text, sizeof text);
    return Napi::String::New(env, text);
  }

  Napi::Value Port(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_); }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

  // UdpBatch.queued(fd): bytes of the next datagram queued on a socket of this process (0 when
  // none), from any thread; -1 when fd is not an open socket. Lets the thread that orders the
  // workers' output see that a worker's socket is empty without touching the worker.
  static Napi::Value Queued(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "expected a file descriptor").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    int fd = info[0].As<Napi::Number>().Int32Value();
    int bytes = 0;
    if (fd < 0 || ioctl(fd, FIONREAD, &bytes) != 0) return Napi::Number::New(env, -1);
    return Napi::Number::New(env, bytes);
  }

  Napi::Value ReceiveBufferSize(const Napi::CallbackInfo& info) {
    int size = 0;
    socklen_t len = sizeof size;
    if (fd_ >= 0) getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, &len);
    return Napi::Number::New(info.Env(), size);
  }

  static void OnReadable(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<UdpBatch*>(handle->data);
    if (status < 0 || !(events & UV_READABLE)) return;
    self->ReadBatch();
  }

  void ReadBatch() {
    if (fd_ < 0) return;
    mmsghdr* msgs = msgs_.data();
    iovec* iov = iov_.data();
    sockaddr_storage* from = from_.data();
    for (size_t i = 0; i < slots_; i++) {
      iov[i].iov_base = data_ + i * kSlot;
      iov[i].iov_len = kSlot;
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
      msgs[i].msg_len = 0;
    }
    if (progress_ != nullptr) {
      __atomic_store_n(&progress_[kProgressReading], 1, __ATOMIC_SEQ_CST);
      __atomic_store_n(&progress_[kProgressReadAt], static_cast<int64_t>(uv_hrtime()), __ATOMIC_SEQ_CST);
    }
    int n = recvmmsg(fd_, msgs, static_cast<unsigned>(slots_), MSG_DONTWAIT, nullptr);
    // EAGAIN: a spurious wakeup; any other error (ICMP-reported ones included) is not ours to
    // act on for a listening socket, and the next readiness event tries again.
    if (n <= 0) {
      if (progress_ != nullptr) __atomic_store_n(&progress_[kProgressReading], 0, __ATOMIC_SEQ_CST);
      return;
    }
    for (int i = 0; i < n; i++) {
      int32_t* r = records_ + static_cast<size_t>(i) * kRecord;
      size_t got = msgs[i].msg_len;
      bool truncated = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 || got > kSlot;
      r[0] = static_cast<int32_t>(got > kSlot ? kSlot : got);
      r[2] = 0;
      r[3] = truncated ? 1 : 0;
      r[4] = r[5] = r[6] = r[7] = 0;
      const sockaddr* sa = reinterpret_cast<const sockaddr*>(&from[i]);
      if (sa->sa_family == AF_INET && msgs[i].msg_hdr.msg_namelen >= sizeof(sockaddr_in)) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(sa);
        r[1] = 4;
        r[2] = ntohs(a->sin_port);
        memcpy(&r[4], &a->sin_addr, 4);
      } else if (sa->sa_family == AF_INET6 && msgs[i].msg_hdr.msg_namelen >= sizeof(sockaddr_in6)) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(sa);
        r[1] = 6;
        r[2] = ntohs(a->sin6_port);
        memcpy(&r[4], &a->sin6_addr, 16);
      } else {
        r[1] = 0;
      }
    }
    Napi::HandleScope scope(env_);
    inCallback_ = true;
    // The raw call, not node-addon-api's wrapper: that one aborts the process when the call fails,
    // which it does when a worker thread is being terminated mid-batch.
    napi_value argv[1] = {Napi::Number::New(env_, n)};
    napi_value result;
    napi_status status = napi_make_callback(env_, *context_, Value(), callback_.Value(), 1, argv, &result);
    inCallback_ = false;
    // A throw from the callback goes to process 'uncaughtException', as Node does for a throw
    // from its own I/O callbacks; left pending, it would surface at some later unrelated call.
    if (status == napi_pending_exception) {
      napi_value error;
      if (napi_get_and_clear_last_exception(env_, &error) == napi_ok) napi_fatal_exception(env_, error);
    }
    if (releasePending_) Release();
  }

  // Drops what start() took; deferred while the callback runs, since close() may be called
  // from inside it and the async context and this object must outlive that call.
  void Release() {
    releasePending_ = false;
    callback_.Reset();
    delete context_;
    context_ = nullptr;
    Unref();
  }

  static void OnEnvCleanup(void* arg) {
    auto* self = static_cast<UdpBatch*>(arg);
    self->cleanupHooked_ = false;
    self->Shutdown(true);
  }

  // From close(), or from the environment's teardown (a worker thread ending) when JavaScript
  // never closed the socket.
  void Shutdown(bool teardown) {
    if (fd_ < 0) return;
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      // The handle must outlive uv_close; it is freed in the close callback, which touches
      // nothing of this object, so teardown order does not matter.
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    close(fd_);
    fd_ = -1;
    if (polling_) {
      polling_ = false;
      if (inCallback_)
        releasePending_ = true;
      else if (!teardown)
        Release();
    }
  }

  napi_env env_ = nullptr;
  int fd_ = -1;
  int port_ = 0;
  size_t slots_ = 0;
  uint8_t* data_ = nullptr;
  int32_t* records_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  bool polling_ = false;
  bool cleanupHooked_ = false;
  bool inCallback_ = false;
  bool releasePending_ = false;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
  std::vector<sockaddr_storage> from_;
  Napi::ObjectReference dataRef_;
  Napi::ObjectReference recordsRef_;
  int64_t* progress_ = nullptr;
  Napi::ObjectReference progressRef_;
  Napi::FunctionReference callback_;
  Napi::AsyncContext* context_ = nullptr;
};

// Batched UDP send for HEP forwarding: one sendmmsg for many datagrams, from one buffer JavaScript
// owns and offsets/lengths it passes, to the one destination the socket is connect()ed to. The
// counterpart of the receive path above: a send per packet would cost what a receive does.
constexpr size_t kMaxSendBatch = 1024;
// Largest UDP payload over IPv4 (65,535 - 20 - 8); a longer one can never be sent.
constexpr int32_t kMaxDatagram = 65507;

class UdpSender : public Napi::ObjectWrap<UdpSender> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "UdpSender",
                       {
                           InstanceMethod("send", &UdpSender::Send),
                           InstanceMethod("close", &UdpSender::Close),
                       });
  }

  // new UdpSender({ host, port, ipv6, sendBufferSize }) creates a non-blocking socket and
  // connects it to host:port; throws an errno-coded Error as the receive side does.
  explicit UdpSender(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpSender>(info) {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].IsObject()) {
      Napi::TypeError::New(env, "expected (options)").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object opts = info[0].As<Napi::Object>();
    Napi::Value hostValue = opts.Get("host");
    Napi::Value portValue = opts.Get("port");
    Napi::Value sndbufValue = opts.Get("sendBufferSize");
    if (!hostValue.IsString() || !portValue.IsNumber() || !sndbufValue.IsNumber()) {
      Napi::TypeError::New(env, "expected { host: string, port, sendBufferSize: number }")
          .ThrowAsJavaScriptException();
      return;
    }
    std::string host = hostValue.As<Napi::String>().Utf8Value();
    int port = portValue.As<Napi::Number>().Int32Value();
    bool ipv6 = opts.Get("ipv6").ToBoolean();
    int sndbuf = sndbufValue.As<Napi::Number>().Int32Value();
    if (port <= 0) {
      Napi::RangeError::New(env, "port out of range").ThrowAsJavaScriptException();
      return;
    }
    sockaddr_storage ss;
    socklen_t len = 0;
    if (!FillAddress(env, host, port, ipv6, &ss, &len)) return;
    int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ErrnoError(env, errno, "socket").ThrowAsJavaScriptException();
      return;
    }
    if (sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      int err = errno;
      close(fd);
      ErrnoError(env, err, "connect").ThrowAsJavaScriptException();
      return;
    }
    fd_ = fd;
    msgs_.resize(kMaxSendBatch);
    iov_.resize(kMaxSendBatch);
  }

  ~UdpSender() override {
    if (fd_ >= 0) close(fd_);
  }

 private:
  // send(data: Buffer, offsets: Int32Array, lengths: Int32Array, first, count) sends datagrams
  // first .. first+count-1, datagram i being data[offsets[i], offsets[i] + lengths[i]). Returns
  // how many the kernel took (from the first on, in order), or -errno when it took none: -EAGAIN
  // when the send buffer is full, -ECONNREFUSED when an earlier datagram drew an ICMP port
  // unreachable. Never blocks; at most kMaxSendBatch datagrams a call.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) {
      Napi::Error::New(env, "closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (info.Length() != 5 || !info[0].IsBuffer() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
        !info[3].IsNumber() || !info[4].IsNumber()) {
      Napi::TypeError::New(env, "expected (Buffer, Int32Array, Int32Array, first, count)")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::TypedArray offsetsArray = info[1].As<Napi::TypedArray>();
    Napi::TypedArray lengthsArray = info[2].As<Napi::TypedArray>();
    if (offsetsArray.TypedArrayType() != napi_int32_array || lengthsArray.TypedArrayType() != napi_int32_array) {
      Napi::TypeError::New(env, "offsets and lengths must be Int32Arrays").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
    Napi::Int32Array offsets = offsetsArray.As<Napi::Int32Array>();
    Napi::Int32Array lengths = lengthsArray.As<Napi::Int32Array>();
    int64_t first = info[3].As<Napi::Number>().Int64Value();
    int64_t count = info[4].As<Napi::Number>().Int64Value();
    size_t entries = offsets.ElementLength() < lengths.ElementLength() ? offsets.ElementLength()
                                                                       : lengths.ElementLength();
    if (first < 0 || count < 0 || static_cast<uint64_t>(first) > entries ||
        static_cast<uint64_t>(count) > entries - static_cast<uint64_t>(first)) {
      Napi::RangeError::New(env, "first and count must lie within offsets and lengths").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (count > static_cast<int64_t>(kMaxSendBatch)) count = kMaxSendBatch;
    const size_t size = data.Length();
    uint8_t* base = data.Data();
    const int32_t* off = offsets.Data() + first;
    const int32_t* lens = lengths.Data() + first;
    mmsghdr* msgs = msgs_.data();
    iovec* iov = iov_.data();
    // Every datagram is checked against the buffer before any is sent, so a bad entry sends
    // nothing rather than part of a batch.
    for (int64_t i = 0; i < count; i++) {
      int32_t o = off[i];
      int32_t l = lens[i];
      if (o < 0 || l < 0 || l > kMaxDatagram || static_cast<size_t>(o) > size ||
          static_cast<size_t>(l) > size - static_cast<size_t>(o)) {
        Napi::RangeError::New(env, "datagram " + std::to_string(first + i) + " lies outside the buffer or is too long")
            .ThrowAsJavaScriptException();
        return env.Undefined();
      }
      iov[i].iov_base = base + o;
      iov[i].iov_len = static_cast<size_t>(l);
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_len = 0;
    }
    size_t sent = 0;
    // sendmmsg may stop short (a full send buffer, a signal); go on until it takes none.
    while (sent < static_cast<size_t>(count)) {
      int n = sendmmsg(fd_, msgs + sent, static_cast<unsigned>(count - sent), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (sent == 0) return Napi::Number::New(env, -errno);
        break;
      }
      if (n == 0) break;
      sent += static_cast<size_t>(n);
    }
    return Napi::Number::New(env, static_cast<double>(sent));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    return info.Env().Undefined();
  }

  int fd_ = -1;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("UdpBatch", UdpBatch::Init(env));
  exports.Set("SLOT", Napi::Number::New(env, kSlot));
  exports.Set("RECORD", Napi::Number::New(env, kRecord));
  exports.Set("MAX_BATCH", Napi::Number::New(env, kMaxBatch));
  exports.Set("UdpSender", UdpSender::Init(env));
  exports.Set("MAX_SEND_BATCH", Napi::Number::New(env, kMaxSendBatch));
  exports.Set("EAGAIN", Napi::Number::New(env, EAGAIN));
  exports.Set("ECONNREFUSED", Napi::Number::New(env, ECONNREFUSED));
  return exports;
}

}  // namespace

NODE_API_MODULE(udp_batch, Init)
