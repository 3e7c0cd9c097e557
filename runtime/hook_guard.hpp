// Per-thread re-entry guard shared by every hook: only the outermost hooked call of a thread
// counts, so a hooked library that calls another hooked entry point is never counted twice.
#pragma once

namespace flopledger::runtime {

// __thread, not thread_local: a constant-initialised POD needs no TLS wrapper call per access.
extern __thread __attribute__((tls_model("initial-exec"))) int t_hook_depth;

class HookGuard {
public:
  HookGuard() : outermost_(t_hook_depth++ == 0) {}
  ~HookGuard() { --t_hook_depth; }
  HookGuard(const HookGuard &) = delete;
  HookGuard &operator=(const HookGuard &) = delete;
  bool outermost() const { return outermost_; }

private:
  bool outermost_;
};

} // namespace flopledger::runtime
