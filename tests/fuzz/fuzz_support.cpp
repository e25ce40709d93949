#include "fuzz_support.hpp"

#include "conformance.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace closeloop::fuzz {

void fail(std::string_view why) {
  std::fprintf(stderr, "closeloop fuzz: invariant broken: %.*s\n", static_cast<int>(why.size()), why.data());
  std::abort();
}

timestamp fixed_now() {
  static const timestamp t = *parse_rfc3339("2026-01-02T03:04:05Z");
  return t;
}

namespace {

json read_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return json::parse(ss.str());
}

// "{stand_in}" (the conformance stand-in's URL) becomes a closed loopback port: translate and verify
// never do I/O, so nothing is ever sent there.
json substitute(json j) {
  if (j.is_string()) {
    std::string s = j.get<std::string>();
    for (auto p = s.find("{stand_in}"); p != std::string::npos; p = s.find("{stand_in}"))
      s.replace(p, 10, "http://127.0.0.1:9");
    return s;
  }
  if (j.is_structured())
    for (auto& v : j) v = substitute(v);
  return j;
}

std::string_view take_line(std::string_view& in) {
  const auto nl = in.find('\n');
  std::string_view line = in.substr(0, nl);
  in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

webhook_host load_webhook_host(const std::string& vendor) {
  const json v = substitute(read_json(std::string(CLOSELOOP_SOURCE_DIR) + "/tests/adapters/conformance/" + vendor +
                                      "/vendor.json"));
  webhook_host h;
  h.tenant = v.at("tenant").get<std::string>();
  h.signing = v.at("signing");
  tenant_config t;
  t.id = h.tenant;
  host_config hc;
  hc.settings = v.at("host");
  hc.id = hc.settings.at("id").get<std::string>();
  hc.vendor = hc.settings.at("vendor").get<std::string>();
  h.host = hc.id;
  t.hosts.push_back(hc);
  adapters::adapter_env env;
  env.public_base_url = "http://127.0.0.1:9";
  auto a = adapters::make_adapter(t, hc, env);
  if (!a) fail("make_adapter(" + vendor + "): " + a.err().message);
  h.ad = std::move(*a);
  return h;
}

void run_webhook(const webhook_host& h, std::string_view input) {
  if (input.empty()) return;
  const bool signed_by_us = input.front() == 'S';
  input.remove_prefix(1);
  adapters::inbound_request req;
  req.method = "POST";
  req.target = std::string(take_line(input));
  if (!signed_by_us) {
    for (std::string_view line = take_line(input); !line.empty(); line = take_line(input)) {
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      req.headers.emplace_back(adapters::to_lower(line.substr(0, colon)), std::string(value));
    }
  }
  req.body = std::string(input);
  req.received_at = fixed_now();
  if (signed_by_us) {
    const auto& sign = test::conformance::signers().at(h.signing.at("scheme").get<std::string>());
    for (auto& [name, value] : sign({h.signing, h.signing.at("secret").get<std::string>(), req.body, fixed_now()}))
      req.headers.emplace_back(adapters::to_lower(name), value);
  }

  auto v = h.ad->verify(req, fixed_now());
  if (!v) {
    if (signed_by_us) fail("a request signed with the host's own secret was refused: " + v.err().message);
    if (v.err().code != errc::unauthorized || v.err().message.empty())
      fail("verify refused without errc::unauthorized and a reason: " + v.err().message);
    return;
  }
  auto events = h.ad->translate(req);
  if (!events) {
    if (events.err().code != errc::invalid_argument || events.err().message.empty())
      fail("translate failed without errc::invalid_argument and a reason: " + events.err().message);
    return;
  }
  auto again = h.ad->translate(req);
  if (!again || again->size() != events->size()) fail("translating the same request twice gave different results");
  for (std::size_t i = 0; i < events->size(); ++i) {
    const event& e = (*events)[i];
    if (e.tenant != h.tenant || e.host != h.host)
      fail("an event names tenant/host " + e.tenant + "/" + e.host + ", not the adapter's " + h.tenant + "/" + h.host);
    if (e.host_event_id.empty()) fail("an event without host_event_id");
    if (e.ticket_id.empty()) fail("an event without ticket_id");
    if ((*again)[i].host_event_id != e.host_event_id) fail("the same request gave another host_event_id");
    std::string text;
    try {
      text = to_json(e).dump();  // as the store writes it: strict, invalid UTF-8 throws
    } catch (const std::exception& x) {
      fail(std::string("a translated event does not serialise: ") + x.what());
    }
    auto back = parse_event(text);
    if (!back) fail("a translated event does not read back: " + back.err().message + "\n" + text);
    if (auto s = validate_against_schema("event", to_json(e)); !s)
      fail("a translated event breaks schemas/event.schema.json: " + s.err().message + "\n" + text);
  }
}

}  // namespace closeloop::fuzz
