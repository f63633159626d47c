#include "ringdb/status.h"

#include <cerrno>
#include <cstring>

namespace ringdb {

Status Status::FromErrno(int err, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return Status(Code::kNoSpace, msg);
    case EINVAL:
      return Status(Code::kInvalidArgument, msg);
    case ENOENT:
      return Status(Code::kNotFound, msg);
    case EROFS:
      return Status(Code::kReadOnly, msg);
    case EBUSY:
    case EWOULDBLOCK:
      return Status(Code::kBusy, msg);
    case ECANCELED:
      return Status(Code::kAborted, msg);
    case ETIMEDOUT:
      return Status(Code::kTimedOut, msg);
    default:
      return Status(Code::kIOError, msg);
  }
}

const char* Status::CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      return "NotFound";
    case Code::kCorruption:
      return "Corruption";
    case Code::kNotSupported:
      return "NotSupported";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kIOError:
      return "IOError";
    case Code::kNoSpace:
      return "NoSpace";
    case Code::kBusy:
      return "Busy";
    case Code::kReadOnly:
      return "ReadOnly";
    case Code::kAborted:
      return "Aborted";
    case Code::kTimedOut:
      return "TimedOut";
    case Code::kShutdown:
      return "Shutdown";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = CodeName(code_);
  if (!msg_.empty()) {
    s += ": ";
    s += msg_;
  }
  return s;
}

}  // namespace ringdb
