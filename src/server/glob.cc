#include "server/glob.h"

#include <cctype>

namespace ringdb::server {

namespace {

char Fold(char c, bool nocase) {
  return nocase ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c;
}

// A [class] against c; *p (just past the '[') moves to the class's closing ']' (the
// last pattern character when there is none), as in Redis.
bool MatchClass(const char** pp, size_t* pplen, char c, bool nocase) {
  const char* p = *pp;
  size_t plen = *pplen;
  const bool negate = plen > 0 && p[0] == '^';
  if (negate) {
    p++;
    plen--;
  }
  bool match = false;
  for (;;) {
    if (plen == 0) {
      p--;
      plen++;
      break;
    }
    if (p[0] == '\\' && plen >= 2) {
      p++;
      plen--;
      if (p[0] == c) match = true;
    } else if (p[0] == ']') {
      break;
    } else if (plen >= 3 && p[1] == '-') {
      char start = Fold(p[0], nocase), end = Fold(p[2], nocase);
      const char fc = Fold(c, nocase);
      if (start > end) {
        const char t = start;
        start = end;
        end = t;
      }
      p += 2;
      plen -= 2;
      if (fc >= start && fc <= end) match = true;
    } else if (Fold(p[0], nocase) == Fold(c, nocase)) {
      match = true;
    }
    p++;
    plen--;
  }
  *pp = p;
  *pplen = plen;
  return negate ? !match : match;
}

// Redis's stringmatchlen_impl (util.c), with its recursion bound for '*': a pattern
// of many stars against a long string gives up instead of taking exponential time.
bool Match(const char* p, size_t plen, const char* s, size_t slen, bool nocase, int nesting,
           bool* skip_longer) {
  if (nesting > 1000) return false;
  while (plen > 0 && slen > 0) {
    switch (p[0]) {
      case '*':
        while (plen > 1 && p[1] == '*') {
          p++;
          plen--;
        }
        if (plen == 1) return true;
        while (slen > 0) {
          if (Match(p + 1, plen - 1, s, slen, nocase, nesting + 1, skip_longer)) return true;
          if (*skip_longer) return false;
          s++;
          slen--;
        }
        *skip_longer = true;
        return false;
      case '?':
        s++;
        slen--;
        break;
      case '[':
        p++;
        plen--;
        if (!MatchClass(&p, &plen, s[0], nocase)) return false;
        s++;
        slen--;
        break;
      case '\\':
        if (plen >= 2) {
          p++;
          plen--;
        }
        [[fallthrough]];
      default:
        if (Fold(p[0], nocase) != Fold(s[0], nocase)) return false;
        s++;
        slen--;
        break;
    }
    p++;
    plen--;
    if (slen == 0) {
      while (plen > 0 && *p == '*') {
        p++;
        plen--;
      }
      break;
    }
  }
  return plen == 0 && slen == 0;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view s, bool nocase) {
  if (pattern == "*") return true;  // Redis special-cases it too (the empty key matches)
  bool skip_longer = false;
  return Match(pattern.data(), pattern.size(), s.data(), s.size(), nocase, 0, &skip_longer);
}

}  // namespace ringdb::server
