#include "common/standard_webhooks.hpp"

#include <charconv>

#include "common/crypto.hpp"

namespace closeloop::adapters::standard_webhooks {
namespace {

error unauthorized(std::string msg) { return make_error(errc::unauthorized, std::move(msg)); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Seconds as written: ASCII digits only, at most 18 of them (no sign, no fraction).
bool parse_seconds(std::string_view text, std::int64_t& out) {
  if (text.empty() || text.size() > 18) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && ptr == text.data() + text.size();
}

std::string quoted_excerpt(std::string_view s) {
  constexpr std::size_t max = 40;
  std::string out = "\"";
  out.append(s.substr(0, max));
  if (s.size() > max) out += "...";
  out += '"';
  return out;
}

}  // namespace

result<std::string> decode_secret(std::string_view secret) {
  if (secret.substr(0, secret_prefix.size()) == secret_prefix) secret.remove_prefix(secret_prefix.size());
  if (secret.empty()) return make_error(errc::invalid_argument, "the secret is empty");
  auto key = crypto::base64_decode(secret);
  if (!key) {
    return make_error(errc::invalid_argument,
                      "the secret is not base64 after the optional \"whsec_\" prefix (" + key.err().message + ")");
  }
  return std::move(key).value();
}

result<signer> signer::from_secret(std::string_view secret) {
  auto key = decode_secret(secret);
  if (!key) return std::move(key).err();
  return signer(std::move(key).value());
}

std::string signer::sign(std::string_view id, std::int64_t timestamp_seconds, std::string_view body) const {
  std::string content;
  const std::string ts = std::to_string(timestamp_seconds);
  content.reserve(id.size() + ts.size() + body.size() + 2);
  content.append(id).append(1, '.').append(ts).append(1, '.').append(body);
  return "v1," + crypto::base64_encode(crypto::hmac_sha256(key_, content));
}

result<void> signer::verify(const header_list& headers, std::string_view body, timestamp now,
                            std::chrono::milliseconds tolerance) const {
  const std::string* id = find_header(headers, id_header);
  if (id == nullptr || id->empty()) return unauthorized("missing webhook-id header");
  const std::string* ts_text = find_header(headers, timestamp_header);
  if (ts_text == nullptr || ts_text->empty()) return unauthorized("missing webhook-timestamp header");
  const std::string* sig = find_header(headers, signature_header);
  if (sig == nullptr || trim(*sig).empty()) return unauthorized("missing webhook-signature header");

  std::int64_t ts = 0;
  const std::string_view ts_view = trim(*ts_text);
  if (!parse_seconds(ts_view, ts)) {
    return unauthorized("webhook-timestamp is not a number of seconds: " + quoted_excerpt(*ts_text));
  }
  const auto tol_s = std::chrono::duration_cast<std::chrono::seconds>(tolerance).count();
  const auto sent = timestamp{std::chrono::seconds{ts}};
  if (sent < now - tolerance) {
    return unauthorized("webhook-timestamp is older than " + std::to_string(tol_s) + " s");
  }
  if (sent > now + tolerance) {
    return unauthorized("webhook-timestamp is more than " + std::to_string(tol_s) + " s in the future");
  }

  // Sign the timestamp exactly as sent (trimmed of surrounding blanks only).
  std::string content;
  content.reserve(id->size() + ts_view.size() + body.size() + 2);
  content.append(*id).append(1, '.').append(ts_view).append(1, '.').append(body);
  const std::string expected = crypto::base64_encode(crypto::hmac_sha256(key_, content));

  bool saw_v1 = false;
  bool matched = false;
  std::string_view rest = *sig;
  while (!rest.empty()) {
    const auto space = rest.find(' ');
    std::string_view entry = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    if (entry.substr(0, 3) != "v1,") continue;  // other schemes (v1a = ed25519) are not ours
    saw_v1 = true;
    // Keep comparing after a match so the time taken does not depend on which entry matched.
    if (crypto::constant_time_equal(entry.substr(3), expected)) matched = true;
  }
  if (!saw_v1) return unauthorized("webhook-signature has no \"v1,\" signature");
  if (!matched) return unauthorized("no signature in webhook-signature matches (wrong secret or modified body)");
  return {};
}

result<std::string> sign(std::string_view secret, std::string_view id, std::int64_t timestamp_seconds,
                         std::string_view body) {
  auto s = signer::from_secret(secret);
  if (!s) return std::move(s).err();
  return s->sign(id, timestamp_seconds, body);
}

result<void> verify(std::string_view secret, const header_list& headers, std::string_view body, timestamp now,
                    std::chrono::milliseconds tolerance) {
  auto s = signer::from_secret(secret);
  if (!s) return unauthorized("cannot verify webhook-signature: " + s.err().message);
  return s->verify(headers, body, now, tolerance);
}

header_list make_headers(const signer& s, std::string_view id, std::int64_t timestamp_seconds, std::string_view body) {
  return {
      {std::string(id_header), std::string(id)},
      {std::string(timestamp_header), std::to_string(timestamp_seconds)},
      {std::string(signature_header), s.sign(id, timestamp_seconds, body)},
  };
}

}  // namespace closeloop::adapters::standard_webhooks
