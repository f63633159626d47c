// Helpers for the 'stats' suite: temporary directories and the backend matrix (io_uring
// and libaio, each plain and behind a FaultBackend).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <memory>
#include <string>

#include "io/io_backend.h"
#include "runtime/runtime.h"
#include "testing/fault_backend.h"

namespace ringdb::stats_test {

// A fresh directory under the test temp dir, removed (with its contents) on destruction.
class TempDir {
 public:
  TempDir() {
    path_ = ::testing::TempDir() + "ringdb_stats_XXXXXX";
    if (mkdtemp(path_.data()) == nullptr) path_.clear();
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::string cmd = "rm -rf '" + path_ + "'";
      if (system(cmd.c_str()) != 0) ADD_FAILURE() << "could not remove " << path_;
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct BackendParam {
  io::BackendKind kind;
  bool fault;  // behind a FaultBackend (no rules: a pass-through wrapper)
};

inline std::string ParamName(const ::testing::TestParamInfo<BackendParam>& p) {
  std::string n = p.param.kind == io::BackendKind::kUring ? "Uring" : "Aio";
  return p.param.fault ? n + "ThroughFault" : n;
}

inline const BackendParam kBackendParams[] = {
    {io::BackendKind::kUring, false},
    {io::BackendKind::kAio, false},
    {io::BackendKind::kUring, true},
    {io::BackendKind::kAio, true},
};

inline const BackendParam kFaultParams[] = {
    {io::BackendKind::kUring, true},
    {io::BackendKind::kAio, true},
};

// Empty when the backend is usable here, else why not (for GTEST_SKIP).
inline std::string Unavailable(io::BackendKind kind) {
  Status s = kind == io::BackendKind::kUring ? io::ProbeUring() : io::ProbeAio();
  if (s.ok()) return "";
  return std::string(io::BackendKindName(kind)) + " unavailable here: " + s.ToString();
}

// Runtime options for one parameter; `ctl` (optional) receives the fault controller.
inline rt::RuntimeOptions RuntimeFor(const BackendParam& p, uint32_t shards,
                                     std::shared_ptr<io::FaultController>* ctl = nullptr) {
  rt::RuntimeOptions opt;
  opt.shards = shards;
  opt.backend.kind = p.kind;
  opt.spin_ns = 0;  // two cores: never spin in tests
  if (p.fault) {
    auto c = std::make_shared<io::FaultController>(io::FaultControllerOptions{false, ""});
    opt.wrap_backend = io::MakeFaultWrapper(c);
    if (ctl != nullptr) *ctl = c;
  }
  return opt;
}

}  // namespace ringdb::stats_test
