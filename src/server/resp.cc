#include "server/resp.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ringdb::server {

namespace {

const char* FindByte(const char* p, size_t n, char c) {
  return static_cast<const char*>(std::memchr(p, c, n));
}

bool IsHex(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  return (std::tolower(static_cast<unsigned char>(c)) - 'a') + 10;
}
bool IsSpace(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

}  // namespace

bool ParseInt64(std::string_view s, int64_t* out) {
  // string2ll: no empty, at most 20 chars, no '+', no leading zero unless "0".
  if (s.empty() || s.size() > 20) return false;
  if (s.size() == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  size_t i = 0;
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    i = 1;
    if (s.size() == 1) return false;
  }
  if (s[i] < '1' || s[i] > '9') return false;
  uint64_t v = 0;
  for (; i < s.size(); i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    const uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (neg) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = v == static_cast<uint64_t>(INT64_MAX) + 1 ? INT64_MIN : -static_cast<int64_t>(v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

bool ParseLongDouble(std::string_view s, long double* out) {
  // string2ld: at most MAX_LONG_DOUBLE_CHARS (5k), no leading space, fully consumed,
  // not NaN.
  if (s.empty() || s.size() >= 5 * 1024) return false;
  char buf[5 * 1024];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  if (IsSpace(buf[0])) return false;
  char* end = nullptr;
  errno = 0;
  const long double v = std::strtold(buf, &end);
  if (static_cast<size_t>(end - buf) != s.size() || std::isnan(v)) return false;
  if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)) return false;
  *out = v;
  return true;
}

std::string FormatLongDouble(long double v) {
  // ld2string(LD_STR_HUMAN): "%.17Lf", then trailing zeros (and a trailing '.') cut.
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[5 * 1024];
  int n = std::snprintf(buf, sizeof(buf), "%.17Lf", v);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(buf)) return "0";
  if (std::strchr(buf, '.') != nullptr) {
    char* p = buf + n - 1;
    while (*p == '0') p--;
    if (*p == '.') p--;
    n = static_cast<int>(p - buf + 1);
  }
  if (n == 2 && buf[0] == '-' && buf[1] == '0') return "0";
  return std::string(buf, static_cast<size_t>(n));
}

namespace {

// The character a backslash escape inside double quotes stands for (sdssplitargs).
char Unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'b':
      return '\b';
    case 'a':
      return '\a';
    default:
      return c;
  }
}

}  // namespace

bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out) {
  out->clear();
  // Redis works on a C string: a NUL ends the line.
  if (const char* nul = static_cast<const char*>(std::memchr(line.data(), 0, line.size())))
    line = line.substr(0, static_cast<size_t>(nul - line.data()));
  const char* p = line.data();
  const char* end = p + line.size();
  auto at = [&](const char* q) { return q < end ? *q : '\0'; };
  for (;;) {
    while (p < end && IsSpace(*p)) p++;
    if (p >= end) return true;
    std::string cur;
    bool inq = false, insq = false, done = false;
    while (!done) {
      const char c = at(p);
      if (inq) {
        if (c == '\\' && at(p + 1) == 'x' && IsHex(at(p + 2)) && IsHex(at(p + 3))) {
          cur.push_back(static_cast<char>(HexValue(at(p + 2)) * 16 + HexValue(at(p + 3))));
          p += 3;
        } else if (c == '\\' && at(p + 1) != '\0') {
          p++;
          cur.push_back(Unescape(*p));
        } else if (c == '"') {
          if (at(p + 1) != '\0' && !IsSpace(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          cur.push_back(c);
        }
      } else if (insq) {
        if (c == '\\' && at(p + 1) == '\'') {
          p++;
          cur.push_back('\'');
        } else if (c == '\'') {
          if (at(p + 1) != '\0' && !IsSpace(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          cur.push_back(c);
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            inq = true;
            break;
          case '\'':
            insq = true;
            break;
          default:
            cur.push_back(c);
        }
      }
      if (p < end) p++;
    }
    out->push_back(std::move(cur));
  }
}

void RespParser::Reset() {
  in_frame_ = false;
  pos_ = 0;
  remaining_ = 0;
  spans_.clear();
  need_ = 0;
}

RespParser::Result RespParser::Fail(const char* msg) {
  error_ = msg;
  Reset();
  return Result::kError;
}

RespParser::Result RespParser::FailPrefix(const char* msg, char got) {
  error_ = msg;
  error_.push_back('\'');
  error_.push_back(got == '\r' || got == '\n' ? ' ' : got);
  error_.push_back('\'');
  Reset();
  return Result::kError;
}

RespParser::Result RespParser::ParseInline(const char* data, size_t len, const RespLimits& limits,
                                           size_t* consumed) {
  const char* nl = FindByte(data, len, '\n');
  if (nl == nullptr) {
    if (len > limits.max_inline_bytes) return Fail("Protocol error: too big inline request");
    return Result::kNeedMore;
  }
  size_t linelen = static_cast<size_t>(nl - data);
  // The limit holds however the line arrived: in one read as in many (where the check
  // above would have failed it before its '\n' came).
  if (linelen > limits.max_inline_bytes) return Fail("Protocol error: too big inline request");
  const size_t total = linelen + 1;
  if (linelen > 0 && data[linelen - 1] == '\r') linelen--;
  if (!SplitInlineArgs(std::string_view(data, linelen), &inline_args_))
    return Fail("Protocol error: unbalanced quotes in request");
  args_.clear();
  for (const std::string& a : inline_args_) args_.emplace_back(a);
  *consumed = total;
  return Result::kCommand;
}

RespParser::Result RespParser::Parse(const char* data, size_t len, const RespLimits& limits,
                                     size_t* consumed) {
  need_ = 0;
  if (!in_frame_) {
    if (len == 0) return Result::kNeedMore;
    if (data[0] != '*') return ParseInline(data, len, limits, consumed);
    const char* cr = FindByte(data, len, '\r');
    if (cr == nullptr) {
      if (len > limits.max_inline_bytes) return Fail("Protocol error: too big mbulk count string");
      return Result::kNeedMore;
    }
    const size_t at = static_cast<size_t>(cr - data);
    // As for an inline line: the same error whether the '\r' came in this read or later.
    if (at > limits.max_inline_bytes) return Fail("Protocol error: too big mbulk count string");
    if (at + 2 > len) return Result::kNeedMore;  // the '\n' too
    int64_t n = 0;
    if (!ParseInt64(std::string_view(data + 1, at - 1), &n) || n > INT_MAX ||
        (n > 0 && static_cast<size_t>(n) > limits.max_multibulk_args)) {
      return Fail("Protocol error: invalid multibulk length");
    }
    if (n > 10 && !limits.authenticated)
      return Fail("Protocol error: unauthenticated multibulk length");
    if (n <= 0) {
      args_.clear();
      *consumed = at + 2;
      return Result::kCommand;
    }
    in_frame_ = true;
    pos_ = at + 2;
    remaining_ = n;
    spans_.clear();
    spans_.reserve(static_cast<size_t>(std::min<int64_t>(n, 1024)));
  }
  while (remaining_ > 0) {
    if (pos_ >= len) return Result::kNeedMore;
    const char* p = data + pos_;
    const size_t avail = len - pos_;
    const char* cr = FindByte(p, avail, '\r');
    if (cr == nullptr) {
      if (avail > limits.max_inline_bytes) return Fail("Protocol error: too big bulk count string");
      return Result::kNeedMore;
    }
    const size_t at = static_cast<size_t>(cr - p);
    if (at > limits.max_inline_bytes) return Fail("Protocol error: too big bulk count string");
    if (at + 2 > avail) return Result::kNeedMore;
    if (p[0] != '$') return FailPrefix("Protocol error: expected '$', got ", p[0]);
    int64_t blen = 0;
    if (!ParseInt64(std::string_view(p + 1, at - 1), &blen) || blen < 0 ||
        static_cast<uint64_t>(blen) > limits.max_bulk_bytes) {
      return Fail("Protocol error: invalid bulk length");
    }
    if (blen > 16384 && !limits.authenticated)
      return Fail("Protocol error: unauthenticated bulk length");
    const size_t body = pos_ + at + 2;
    const size_t frame_end = body + static_cast<size_t>(blen) + 2;
    if (frame_end > len) {
      need_ = frame_end;
      return Result::kNeedMore;  // re-reads this short header line next time: cheap
    }
    spans_.push_back({body, static_cast<size_t>(blen)});
    pos_ = frame_end;
    remaining_--;
  }
  args_.clear();
  args_.reserve(spans_.size());
  for (const Span& s : spans_) args_.emplace_back(data + s.off, s.len);
  *consumed = pos_;
  in_frame_ = false;
  pos_ = 0;
  spans_.clear();
  return Result::kCommand;
}

// ------------------------------------------------------------------ replies

void Reply::Header(char type, int64_t n) {
  char buf[32];
  buf[0] = type;
  int k = std::snprintf(buf + 1, sizeof(buf) - 1, "%lld\r\n", static_cast<long long>(n));
  out_->append(buf, static_cast<size_t>(k + 1));
}

void Reply::Simple(std::string_view s) {
  out_->push_back('+');
  out_->append(s);
  out_->append("\r\n");
}

void Reply::Error(std::string_view s) {
  const size_t start = out_->size();
  out_->push_back('-');
  out_->append(s);
  for (size_t i = start + 1; i < out_->size(); i++) {
    if ((*out_)[i] == '\r' || (*out_)[i] == '\n') (*out_)[i] = ' ';
  }
  out_->append("\r\n");
}

void Reply::Int(int64_t v) {
  Header(':', v);
}

void Reply::Bulk(std::string_view s) {
  Header('$', static_cast<int64_t>(s.size()));
  out_->append(s);
  out_->append("\r\n");
}

void Reply::Null() {
  out_->append(proto_ >= 3 ? "_\r\n" : "$-1\r\n");
}
void Reply::NullArray() {
  out_->append(proto_ >= 3 ? "_\r\n" : "*-1\r\n");
}
void Reply::Array(size_t n) {
  Header('*', static_cast<int64_t>(n));
}
void Reply::Map(size_t n) {
  if (proto_ >= 3) {
    Header('%', static_cast<int64_t>(n));
  } else {
    Header('*', static_cast<int64_t>(2 * n));
  }
}
void Reply::Set(size_t n) {
  Header(proto_ >= 3 ? '~' : '*', static_cast<int64_t>(n));
}

void Reply::Double(double v) {
  char buf[64];
  int n;
  if (std::isinf(v)) {
    n = std::snprintf(buf, sizeof(buf), "%s", v > 0 ? "inf" : "-inf");
  } else {
    n = std::snprintf(buf, sizeof(buf), "%.17g", v);
  }
  if (proto_ >= 3) {
    out_->push_back(',');
    out_->append(buf, static_cast<size_t>(n));
    out_->append("\r\n");
  } else {
    Bulk(std::string_view(buf, static_cast<size_t>(n)));
  }
}

void Reply::Bool(bool v) {
  if (proto_ >= 3) {
    out_->append(v ? "#t\r\n" : "#f\r\n");
  } else {
    Int(v ? 1 : 0);
  }
}

void Reply::Verbatim(std::string_view text) {
  if (proto_ < 3) {
    Bulk(text);
    return;
  }
  Header('=', static_cast<int64_t>(text.size() + 4));
  out_->append("txt:");
  out_->append(text);
  out_->append("\r\n");
}

}  // namespace ringdb::server
