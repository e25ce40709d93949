#pragma once
// Text helpers the engine uses on ticket content: PII scrubbing before anything is written to a
// knowledge base, and a word-order-insensitive fingerprint of a problem statement (so the same
// problem asked twice drafts one article). Pure functions, UTF-8 in and out.
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace closeloop {

// The PII scrubber (plugin/src/engine/scrub.cpp), used for everything that leaves a ticket (KB
// drafts, notes quoting customers) and by logs and exports. Replaces
//   e-mail addresses                                   -> "[email]"
//   phone numbers: +CC international, Chinese mobile 1[3-9]x (11 digits, 3-4-4, +86),
//     (415) 555-0100, 415-555-0100, 010-8765 4321, bare runs after "tel"/"电话"... -> "[phone]"
//   payment cards: 13-19 digits, plain or in groups, issuer 2-6, Luhn-checked -> "[card]"
//   Chinese resident ID numbers (18, GB 11643 check digit incl. X)  -> "[id]"
//   IBANs (ISO 13616 mod-97, plain or in groups of four)           -> "[iban]"
//   IPv4 and IPv6 addresses                                        -> "[ip]"
//   the given people's names (the ticket's requester and agents: full name, each word of 2+
//     letters written with a capital; Chinese names also as given name and surname+先生/女士...)
//                                                                  -> "[name]"
// Dates, times, version strings, amounts (1 234 567), order/tracking numbers glued to letters
// or '#' and digit runs failing their checksum are left alone. Pure, UTF-8 in and out.
std::string scrub_pii(std::string_view text, const std::vector<std::string>& names = {});

// At most max_bytes bytes, cut on a UTF-8 character boundary, "…" appended when cut.
std::string truncate_utf8(std::string_view text, std::size_t max_bytes);

// Lower-cased ASCII words of 3+ letters (English stop words dropped) and each CJK character,
// sorted and de-duplicated, joined by '-'; then FNV-1a 64 as 16 hex digits. "Printer on floor 3
// jams" and "printer jams on floor 3" have the same fingerprint.
std::string problem_fingerprint(std::string_view text);

// A duration in words for reasons, rounded: "40 min", "3 h" (under 48 h), "2 d"; at least "1 min";
// `u` names the units (the sidebar passes its language's: "3 小时").
struct span_units {
  const char* day = "d";
  const char* hour = "h";
  const char* minute = "min";
};
std::string format_span(std::chrono::milliseconds d, const span_units& u = {});

}  // namespace closeloop
