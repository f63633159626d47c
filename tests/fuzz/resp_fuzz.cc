// Fuzz target `resp`: ringdb-server's request parser (RespParser, src/server/resp.h,
// docs/server.md), driven the way a connection drives it (Conn::ProcessInput): parse
// until it needs more, keep the unparsed tail, read more, call again from the same start.
//
// Input: the bytes a client sends (pipelined multibulk frames, inline commands, noise).
// Each input is parsed under three sets of limits: the server's defaults, the small ones
// before AUTH, and small limits drawn from the input's hash (so that every limit is
// reached by short inputs; the server's 64 KiB inline limit is the same code with a
// larger number). Under each, the input is fed whole, in pieces whose sizes are drawn
// from the input's hash, and (when short) one byte at a time, each read into a new
// buffer so that a view kept across reads is a use after free.
//
// Checks:
//  - the pieces do not matter: every feeding yields the same commands (empty frames
//    included), then the same protocol error or the same unparsed tail;
//  - an error is one of the documented "Protocol error: ..." replies, and calling Parse
//    again on the same bytes reports the same error;
//  - bounded buffering: need_bytes() asks for more than the buffer holds but never more
//    than one bulk within the limit past it; no command exceeds the limits (arguments,
//    bulk length, inline line length, the pre-AUTH 10 arguments of 16 KiB);
//  - a multibulk command consumes exactly its canonical encoding's length and its
//    arguments are views into it, in order; an inline command is one line ending in
//    '\n', not starting with '*', its arguments owned by the parser (what Conn relies on
//    to tell them apart);
//  - every command re-encoded as a RESP array, and as a quoted inline line, parses back
//    to itself; with a limit set one below what the command needs, it gets that limit's
//    error as soon as the offending header line is in (not after buffering the body).
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "server/resp.h"
#include "tests/fuzz/fuzz_util.h"

namespace ringdb::fuzz {
namespace {

using server::RespLimits;
using server::RespParser;
using Result = RespParser::Result;
using Args = std::vector<std::string>;

// The pre-AUTH limits (resp.cc; Redis's): at most 10 arguments of at most 16 KiB.
constexpr size_t kUnauthArgs = 10;
constexpr size_t kUnauthBulkBytes = 16384;
// Byte-at-a-time feeding rescans an incomplete inline line per byte: short inputs only.
constexpr size_t kBytewiseMaxInput = 512;
// The inline re-encoding takes 4 bytes per argument byte: commands up to this size.
constexpr size_t kInlineRoundTripMaxBytes = 8192;

uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t Hash(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

// Printable, cut short, for reports.
std::string Show(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && out.size() < 160; i++) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (out.size() >= 160) out += "...";
  return out;
}

std::string Show(const Args& args) {
  std::string out = "[";
  for (const std::string& a : args) out += Show(a) + (&a == &args.back() ? "" : " | ");
  return out + "]";
}

std::string Frame(const Args& args) {
  std::string s = "*";
  s.append(std::to_string(args.size())).append("\r\n");
  for (const std::string& a : args) {
    s.append("$").append(std::to_string(a.size())).append("\r\n").append(a).append("\r\n");
  }
  return s;
}

// Every byte as a \xHH escape inside double quotes (SplitInlineArgs reads them back).
std::string InlineLine(const Args& args) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (const std::string& a : args) {
    if (!s.empty()) s.push_back(' ');
    s.push_back('"');
    for (char c : a) {
      const unsigned char u = static_cast<unsigned char>(c);
      s.append("\\x").push_back(kHex[u >> 4]);
      s.push_back(kHex[u & 15]);
    }
    s.push_back('"');
  }
  return s.append("\r\n");
}

bool IsDocumentedError(const std::string& e) {
  static const char* const kErrors[] = {
      "Protocol error: too big inline request",
      "Protocol error: unbalanced quotes in request",
      "Protocol error: too big mbulk count string",
      "Protocol error: invalid multibulk length",
      "Protocol error: unauthenticated multibulk length",
      "Protocol error: too big bulk count string",
      "Protocol error: invalid bulk length",
      "Protocol error: unauthenticated bulk length",
  };
  for (const char* k : kErrors) {
    if (e == k) return true;
  }
  static const std::string kExpected = "Protocol error: expected '$', got '";
  return e.size() == kExpected.size() + 2 && e.starts_with(kExpected) && e.back() == '\'' &&
         e[kExpected.size()] != '$' && e[kExpected.size()] != '\r' && e[kExpected.size()] != '\n';
}

// What one feeding of the input produced.
struct Outcome {
  std::vector<Args> cmds;  // in order; an empty frame is an empty Args
  bool failed = false;
  std::string error;
  size_t tail = 0;  // bytes left unparsed at the end (no error)
  bool operator==(const Outcome&) const = default;
};

std::string Show(const Outcome& o) {
  std::string s = std::to_string(o.cmds.size()) + " commands";
  if (!o.cmds.empty()) s += ", last " + Show(o.cmds.back());
  return s + (o.failed ? ", error '" + o.error + "'" : ", tail " + std::to_string(o.tail));
}

// The checks on one command the parser returned from buf[0..len) with *consumed.
void CheckCommand(const RespParser& p, const char* buf, size_t len, size_t consumed,
                  const RespLimits& lim) {
  const std::vector<std::string_view>& args = p.args();
  FUZZ_CHECK(consumed > 0 && consumed <= len, "consumed %zu of %zu", consumed, len);
  if (buf[0] == '*') {
    if (args.empty()) return;  // *0, *-1: consumed silently
    Args copy(args.begin(), args.end());
    FUZZ_CHECK(args.size() <= lim.max_multibulk_args, "%zu arguments, limit %zu", args.size(),
               lim.max_multibulk_args);
    FUZZ_CHECK(lim.authenticated || args.size() <= kUnauthArgs, "%zu arguments before AUTH",
               args.size());
    FUZZ_CHECK(consumed == Frame(copy).size(), "consumed %zu for a frame of %zu: %s", consumed,
               Frame(copy).size(), Show(copy).c_str());
    const char* at = buf;
    for (std::string_view a : args) {
      FUZZ_CHECK(a.size() <= lim.max_bulk_bytes, "bulk of %zu, limit %zu", a.size(),
                 lim.max_bulk_bytes);
      FUZZ_CHECK(lim.authenticated || a.size() <= kUnauthBulkBytes, "bulk of %zu before AUTH",
                 a.size());
      FUZZ_CHECK(a.data() > at && a.data() + a.size() + 2 <= buf + consumed,
                 "argument outside its frame or out of order");
      at = a.data() + a.size();
    }
    return;
  }
  const char* nl = static_cast<const char*>(std::memchr(buf, '\n', len));
  FUZZ_CHECK(nl != nullptr && consumed == static_cast<size_t>(nl - buf) + 1,
             "an inline command of %zu bytes does not end at its first newline", consumed);
  FUZZ_CHECK(static_cast<size_t>(nl - buf) <= lim.max_inline_bytes,
             "an inline line of %zu bytes, limit %zu", static_cast<size_t>(nl - buf),
             lim.max_inline_bytes);
  for (std::string_view a : args) {
    FUZZ_CHECK(a.data() < buf || a.data() >= buf + len,
               "an inline argument is a view into the input: Conn takes it for multibulk");
  }
}

// After kNeedMore on buf[0..len): the parser asks for a bounded amount.
void CheckNeedMore(const RespParser& p, size_t len, const RespLimits& lim) {
  const size_t need = p.need_bytes();
  if (need == 0) return;
  FUZZ_CHECK(need > len, "need_bytes %zu but the buffer holds %zu", need, len);
  FUZZ_CHECK(need - len <= lim.max_bulk_bytes + 2, "need_bytes %zu past %zu, bulk limit %zu", need,
             len, lim.max_bulk_bytes);
}

// After kError: the error is documented, and the same bytes give it again.
void CheckError(RespParser* p, const char* buf, size_t len, const RespLimits& lim) {
  const std::string error = p->error();
  FUZZ_CHECK(IsDocumentedError(error), "undocumented error '%s'", Show(error).c_str());
  size_t consumed = 0;
  const Result again = p->Parse(buf, len, lim, &consumed);
  FUZZ_CHECK(again == Result::kError && p->error() == error,
             "parsing the same bytes after '%s' gave %d '%s'", error.c_str(),
             static_cast<int>(again), p->error().c_str());
}

// Feeds `in` like a connection: reads of the sizes next_read() returns, each into a new
// buffer holding the unparsed tail and the new bytes.
template <typename NextRead>
Outcome Feed(std::string_view in, const RespLimits& lim, NextRead next_read) {
  Outcome out;
  RespParser p;
  std::string buf;
  size_t start = 0, fed = 0;
  for (;;) {
    const char* data = buf.data() + start;
    const size_t len = buf.size() - start;
    size_t consumed = 0;
    const Result r = p.Parse(data, len, lim, &consumed);
    if (r == Result::kError) {
      CheckError(&p, data, len, lim);
      out.failed = true;
      out.error = p.error();
      return out;
    }
    if (r == Result::kCommand) {
      CheckCommand(p, data, len, consumed, lim);
      out.cmds.emplace_back(p.args().begin(), p.args().end());
      start += consumed;
      continue;
    }
    FUZZ_CHECK(r == Result::kNeedMore, "result %d", static_cast<int>(r));
    CheckNeedMore(p, len, lim);
    if (fed == in.size()) {
      out.tail = len;
      return out;
    }
    const size_t n = std::min(in.size() - fed, std::max<size_t>(1, next_read()));
    std::string next;
    next.reserve(len + n);
    next.append(data, len).append(in.substr(fed, n));
    fed += n;
    buf = std::move(next);  // the old buffer is freed: ASan sees any view kept into it
    start = 0;
  }
}

// Parses `bytes` whole; the one command it must hold, or fails with what it got.
void ExpectCommand(std::string_view bytes, const RespLimits& lim, const Args& want,
                   const char* what) {
  RespParser p;
  size_t consumed = 0;
  const std::string copy(bytes);  // exact size: ASan sees a read past the frame
  const Result r = p.Parse(copy.data(), copy.size(), lim, &consumed);
  FUZZ_CHECK(r == Result::kCommand && consumed == copy.size(), "%s of %s: result %d '%s'", what,
             Show(want).c_str(), static_cast<int>(r), p.error().c_str());
  const Args got(p.args().begin(), p.args().end());
  FUZZ_CHECK(got == want, "%s of %s parses as %s", what, Show(want).c_str(), Show(got).c_str());
}

// Parses `bytes` whole; it must fail with `error` at once.
void ExpectError(std::string_view bytes, const RespLimits& lim, const std::string& error,
                 const Args& cmd) {
  RespParser p;
  size_t consumed = 0;
  const std::string copy(bytes);
  const Result r = p.Parse(copy.data(), copy.size(), lim, &consumed);
  FUZZ_CHECK(r == Result::kError && p.error() == error,
             "%s with a limit one short: result %d '%s', want '%s' (%zu bytes in)",
             Show(cmd).c_str(), static_cast<int>(r), p.error().c_str(), error.c_str(),
             bytes.size());
}

// decode(encode(cmd)) == cmd for both encodings, and each limit at one below what cmd
// needs gives its error as soon as the offending header line is in.
void CheckRoundTrip(const Args& cmd) {
  size_t longest = 0, total = 0;
  for (const std::string& a : cmd) {
    longest = std::max(longest, a.size());
    total += a.size();
  }
  RespLimits roomy;
  roomy.max_bulk_bytes = std::max(roomy.max_bulk_bytes, longest);
  roomy.max_multibulk_args = std::max(roomy.max_multibulk_args, cmd.size());
  const std::string frame = Frame(cmd);
  ExpectCommand(frame, roomy, cmd, "the RESP array");
  {
    // One byte short: needs exactly the rest (the last bulk's header is in).
    RespParser p;
    size_t consumed = 0;
    const std::string cut = frame.substr(0, frame.size() - 1);
    FUZZ_CHECK(p.Parse(cut.data(), cut.size(), roomy, &consumed) == Result::kNeedMore &&
                   p.need_bytes() == frame.size(),
               "%s one byte short: need_bytes %zu of %zu", Show(cmd).c_str(), p.need_bytes(),
               frame.size());
  }
  // The argument count: the first header line alone is refused.
  const std::string count_line = frame.substr(0, frame.find('\n') + 1);
  RespLimits lim = roomy;
  lim.max_multibulk_args = cmd.size() - 1;
  ExpectError(count_line, lim, "Protocol error: invalid multibulk length", cmd);
  // The bulk length: refused at the first argument over it, before its body.
  if (longest > 0) {
    lim = roomy;
    lim.max_bulk_bytes = longest - 1;
    size_t upto = count_line.size();
    for (const std::string& a : cmd) {
      upto += 1 + std::to_string(a.size()).size() + 2;
      if (a.size() == longest) break;
      upto += a.size() + 2;
    }
    ExpectError(std::string_view(frame).substr(0, upto), lim, "Protocol error: invalid bulk length",
                cmd);
  }
  // Before AUTH.
  lim = roomy;
  lim.authenticated = false;
  if (cmd.size() > kUnauthArgs) {
    ExpectError(count_line, lim, "Protocol error: unauthenticated multibulk length", cmd);
  } else if (longest > kUnauthBulkBytes) {
    ExpectError(frame, lim, "Protocol error: unauthenticated bulk length", cmd);
  } else {
    ExpectCommand(frame, lim, cmd, "the RESP array before AUTH");
  }
  if (total > kInlineRoundTripMaxBytes) return;
  // The quoted inline line; one byte over the inline limit is refused, whole.
  const std::string line = InlineLine(cmd);
  lim = roomy;
  lim.max_inline_bytes = line.size() - 1;  // the '\n' is at line.size() - 1
  ExpectCommand(line, lim, cmd, "the inline line");
  lim.max_inline_bytes = line.size() - 2;
  ExpectError(line, lim, "Protocol error: too big inline request", cmd);
}

// Small limits drawn from the input, so that short inputs reach every one of them.
RespLimits SmallLimits(uint64_t h) {
  RespLimits lim;
  lim.max_bulk_bytes = h % 256;
  lim.max_multibulk_args = 1 + (h >> 8) % 16;
  lim.max_inline_bytes = 2 + (h >> 16) % 256;
  lim.authenticated = ((h >> 24) & 3) != 0;
  return lim;
}

void CheckInput(std::string_view in, const RespLimits& lim, uint64_t seed, bool round_trip) {
  const Outcome whole = Feed(in, lim, [&] { return in.size(); });
  uint64_t state = seed;
  const Outcome pieces = Feed(in, lim, [&] {
    const uint64_t r = SplitMix(&state);
    return (r & 3) == 0 ? (r >> 8) % 4096 : (r >> 8) % 16;  // mostly small reads
  });
  FUZZ_CHECK(pieces == whole, "fed in pieces (seed %llx): %s; fed whole: %s",
             static_cast<unsigned long long>(seed), Show(pieces).c_str(), Show(whole).c_str());
  if (in.size() <= kBytewiseMaxInput) {
    const Outcome bytes = Feed(in, lim, [] { return size_t{1}; });
    FUZZ_CHECK(bytes == whole, "fed byte by byte: %s; fed whole: %s", Show(bytes).c_str(),
               Show(whole).c_str());
  }
  if (!round_trip) return;
  for (const Args& cmd : whole.cmds) {
    if (!cmd.empty()) CheckRoundTrip(cmd);
  }
}

}  // namespace
}  // namespace ringdb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringdb::fuzz;
  const std::string_view in = AsView(data, size);
  const uint64_t h = Hash(in);
  CheckInput(in, RespLimits(), h, /*round_trip=*/true);
  RespLimits before_auth;
  before_auth.authenticated = false;
  CheckInput(in, before_auth, h ^ 1, /*round_trip=*/false);
  CheckInput(in, SmallLimits(h), h ^ 2, /*round_trip=*/false);
  return 0;
}
