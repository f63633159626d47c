// RESP: the Redis serialization protocol, requests in (RespParser) and replies out
// (Reply). See docs/server.md.
//
// Requests are RESP2 multibulk frames (`*<n>\r\n` then n times `$<len>\r\n<bytes>\r\n`)
// or inline commands (one line, arguments split on spaces with Redis's quoting rules).
// The parser is incremental and resumable: it keeps how far it got into the frame at
// the head of the buffer, so a 30 MB value arriving in 64 KiB pieces is scanned once.
// Errors use Redis's wording ("Protocol error: invalid bulk length"); after one, the
// connection answers it and closes.
//
// Replies follow the connection's protocol version: RESP2, or RESP3 after HELLO 3
// (null `_`, maps `%`, doubles `,`, verbatim `=`).
//
// Thread ownership: one connection's objects, used by the fiber that owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringdb::server {

struct RespLimits {
  size_t max_bulk_bytes = 32u << 20;     // proto-max-bulk-len
  size_t max_multibulk_args = 1u << 20;  // arguments of one command
  size_t max_inline_bytes = 64u << 10;   // a line before its terminator (inline: LF, header: CR)
  bool authenticated = true;             // false: the small pre-AUTH limits apply
};

class RespParser {
 public:
  enum class Result { kCommand, kNeedMore, kError };

  // Parses the command at data[0..len). data[0] must be where the previous call left
  // off (the start of the frame it returned kNeedMore for, or the byte after the last
  // command). kCommand: *consumed bytes make up the command whose arguments are
  // args() (views into data, valid while data is) or, for an inline command, owned by
  // the parser until the next call. kNeedMore: call again with the same start and more
  // bytes (at least need_bytes() in all, when that is known). kError: error() says
  // why; *consumed is not meaningful. An empty frame (`*0`, `*-1`, a blank inline
  // line) is consumed silently: kCommand with no arguments.
  Result Parse(const char* data, size_t len, const RespLimits& limits, size_t* consumed);

  const std::vector<std::string_view>& args() const { return args_; }
  const std::string& error() const { return error_; }
  // Bytes the buffer must hold for the next call to make progress (0: unknown).
  size_t need_bytes() const { return need_; }
  // Forgets a partly parsed frame (the connection is closing).
  void Reset();

 private:
  Result ParseInline(const char* data, size_t len, const RespLimits& limits, size_t* consumed);
  Result Fail(const char* msg);
  Result FailPrefix(const char* msg, char got);

  // Resumable state of the multibulk frame at the head of the buffer.
  bool in_frame_ = false;
  size_t pos_ = 0;         // next byte to look at, from the frame start
  int64_t remaining_ = 0;  // arguments still to read
  struct Span {
    size_t off;
    size_t len;
  };
  std::vector<Span> spans_;
  std::vector<std::string_view> args_;
  std::vector<std::string> inline_args_;
  size_t need_ = 0;
  std::string error_;
};

// Splits an inline command line like Redis's sdssplitargs: spaces separate arguments,
// "double quotes" take \n \r \t \b \a \\ \" and \xHH escapes, 'single quotes' take \'.
// False on unbalanced quotes (or a closing quote not followed by a space).
bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out);

// Appends RESP replies to a string. proto 2 or 3.
class Reply {
 public:
  explicit Reply(std::string* out, int proto = 2) : out_(out), proto_(proto) {}
  void set_proto(int p) { proto_ = p; }
  int proto() const { return proto_; }
  std::string* out() { return out_; }

  void Simple(std::string_view s);  // +s (s must not hold CR/LF)
  void Ok() { Raw("+OK\r\n"); }
  void Error(std::string_view s);  // -s; CR/LF inside become spaces
  void Int(int64_t v);
  void Bulk(std::string_view s);
  void Null();       // RESP2 $-1, RESP3 _
  void NullArray();  // RESP2 *-1, RESP3 _
  void Array(size_t n);
  void Map(size_t n);                    // n pairs: RESP3 %n, RESP2 *2n
  void Set(size_t n);                    // RESP3 ~n, RESP2 *n
  void Double(double v);                 // RESP3 ,v; RESP2 bulk
  void Bool(bool v);                     // RESP3 #t/#f; RESP2 :1/:0
  void Verbatim(std::string_view text);  // RESP3 =len txt:...; RESP2 bulk
  void Raw(std::string_view bytes) { out_->append(bytes); }

 private:
  void Header(char type, int64_t n);
  std::string* out_;
  int proto_;
};

// Redis's strict integer parsing (string2ll): optional '-', digits, no leading zeros
// (except "0"), no spaces, fits in int64.
bool ParseInt64(std::string_view s, int64_t* out);
// Redis's float parsing for INCRBYFLOAT (strtold, no spaces, not NaN).
bool ParseLongDouble(std::string_view s, long double* out);
// Formats like Redis's ld2string(LD_STR_HUMAN): up to 17 significant digits, no
// exponent, no trailing zeros.
std::string FormatLongDouble(long double v);

}  // namespace ringdb::server
