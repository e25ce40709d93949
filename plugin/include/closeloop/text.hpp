#pragma once
// Text helpers the engine uses on ticket content: PII scrubbing before anything is written to a
// knowledge base, and a word-order-insensitive fingerprint of a problem statement (so the same
// problem asked twice drafts one article). Pure functions, UTF-8 in and out.
#include <cstddef>
#include <string>
#include <string_view>

namespace closeloop {

// Replaces e-mail addresses with "[email]", phone numbers (7+ digits with spaces, dots,
// dashes, parentheses or a leading +) with "[phone]", and card-like digit runs (13-19 digits)
// with "[number]".
std::string scrub_pii(std::string_view text);

// At most max_bytes bytes, cut on a UTF-8 character boundary, "…" appended when cut.
std::string truncate_utf8(std::string_view text, std::size_t max_bytes);

// Lower-cased ASCII words of 3+ letters (English stop words dropped) and each CJK character,
// sorted and de-duplicated, joined by '-'; then FNV-1a 64 as 16 hex digits. "Printer on floor 3
// jams" and "printer jams on floor 3" have the same fingerprint.
std::string problem_fingerprint(std::string_view text);

}  // namespace closeloop
