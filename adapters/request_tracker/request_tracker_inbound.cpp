// The request_tracker adapter's inbound half: the scrip's signature (verify) and its
// transaction payloads as canonical events (translate). See README.md, "Inbound".
#include "request_tracker/request_tracker_adapter.hpp"

#include <exception>

#include "common/crypto.hpp"
#include "request_tracker/request_tracker_detail.hpp"

namespace closeloop::adapters::request_tracker {

using namespace detail;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// inbound

result<void> request_tracker_adapter::verify(const inbound_request& req, timestamp now) const {
  if (s_.webhook_secret.empty()) {
    return make_error(errc::unauthorized, "webhook_secret is not configured for this host: inbound webhooks are refused");
  }
  const std::string* ts = req.header(timestamp_header);
  if (ts == nullptr) return make_error(errc::unauthorized, "missing X-Plugin-Timestamp header");
  const std::string* sig = req.header(signature_header);
  if (sig == nullptr) return make_error(errc::unauthorized, "missing X-Plugin-Signature header");

  std::int64_t seconds = 0;
  if (!all_digits(*ts) || ts->size() > 12 ||
      std::from_chars(ts->data(), ts->data() + ts->size(), seconds).ec != std::errc()) {
    return make_error(errc::unauthorized, "X-Plugin-Timestamp is not a Unix time in seconds");
  }
  const auto tolerance_s = std::chrono::duration_cast<std::chrono::seconds>(env_.signature_tolerance).count();
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (now_s - seconds > tolerance_s) {
    return make_error(errc::unauthorized, "X-Plugin-Timestamp is older than " + std::to_string(tolerance_s) + " s");
  }
  if (seconds - now_s > tolerance_s) {
    return make_error(errc::unauthorized,
                      "X-Plugin-Timestamp is more than " + std::to_string(tolerance_s) + " s in the future");
  }

  constexpr std::string_view scheme = "sha256=";
  if (sig->size() != scheme.size() + 64 || !iequals(std::string_view(*sig).substr(0, scheme.size()), scheme)) {
    return make_error(errc::unauthorized, "X-Plugin-Signature: expected sha256=<64 hex digits>");
  }
  auto given = crypto::hex_decode(std::string_view(*sig).substr(scheme.size()));
  if (!given) return make_error(errc::unauthorized, "X-Plugin-Signature: expected sha256=<64 hex digits>");
  std::string signed_content;
  signed_content.reserve(ts->size() + 1 + req.body.size());
  signed_content.append(*ts).append(".").append(req.body);
  const std::string expected = crypto::hmac_sha256(s_.webhook_secret, signed_content);
  if (!crypto::constant_time_equal(*given, expected)) {
    return make_error(errc::unauthorized, "X-Plugin-Signature does not match (wrong secret or modified body)");
  }
  return {};
}

namespace {

// Reads the scrip's payload fields with errors that name them.
struct payload_reader {
  const json& j;
  std::string where;  // "body" or "body[3]"

  result<std::string> optional_string(const char* name) const {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) return std::string();
    if (!it->is_string()) return bad_payload(where + "." + name, std::string("expected a string, got ") + it->type_name());
    return it->get<std::string>();
  }
  result<std::string> required_id(const char* name) const {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) return bad_payload(where + "." + name, "required");
    auto id = id_text(*it);
    if (!id) return bad_payload(where + "." + name, "expected an RT id (an integer or a string of digits)");
    return *id;
  }
  result<party> person(const char* name) const {
    party p;
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) return p;
    if (!it->is_object()) return bad_payload(where + "." + name, std::string("expected an object, got ") + it->type_name());
    payload_reader sub{*it, where + "." + name};
    auto email = sub.optional_string("email");
    if (!email) return std::move(email).err();
    auto pname = sub.optional_string("name");
    if (!pname) return std::move(pname).err();
    auto role = sub.optional_string("role");
    if (!role) return std::move(role).err();
    if (auto id = it->find("id"); id != it->end() && !id->is_null()) {
      if (!id->is_string() && !id->is_number_integer()) {
        return bad_payload(where + "." + name + ".id", "expected a string or an integer");
      }
      p.id = scalar_text(*id);
    }
    p.email = *email;
    p.name = *pname;
    p.role = *role;
    if (!p.role.empty() && p.role != "customer" && p.role != "agent" && p.role != "system") {
      return bad_payload(where + "." + name + ".role", "expected customer, agent or system, got \"" + p.role + "\"");
    }
    return p;
  }
};

std::string canonical_set_field(const std::string& rt_field) {
  if (rt_field == "Priority") return "priority";
  if (rt_field == "Queue") return "group";
  if (rt_field == "Owner") return "owner";
  if (rt_field == "Subject") return "subject";
  std::string out;
  for (char c : rt_field) out += ascii_lower(c);
  return out;
}

}  // namespace

result<std::vector<event>> request_tracker_adapter::translate(const inbound_request& req) const {
  try {
    json body;
    try {
      body = json::parse(req.body);
    } catch (const json::parse_error& e) {
      return make_error(errc::invalid_argument, "body is not valid JSON: " + parser_message(e));
    }
    std::vector<std::pair<const json*, std::string>> items;
    if (body.is_object()) {
      items.emplace_back(&body, "body");
    } else if (body.is_array()) {
      for (std::size_t i = 0; i < body.size(); ++i) items.emplace_back(&body[i], "body[" + std::to_string(i) + "]");
    } else {
      return make_error(errc::invalid_argument,
                        std::string("body: expected an RT transaction (a JSON object) or an array of them, got ") +
                            body.type_name());
    }

    std::vector<event> out;
    for (const auto& [item, where] : items) {
      const json& j = *item;
      if (!j.is_object()) return bad_payload(where, std::string("expected an object, got ") + j.type_name());
      payload_reader r{j, where};

      auto kind = r.optional_string("event");
      if (!kind) return std::move(kind).err();
      if (!kind->empty() && *kind != "rt.transaction") continue;  // not ours to translate

      for (auto [field, expected] : {std::pair{"tenant", &tenant_}, std::pair{"host", &host_}}) {
        auto given = r.optional_string(field);
        if (!given) return std::move(given).err();
        if (!given->empty() && *given != *expected) {
          return bad_payload(where + "." + field, "\"" + *given + "\" does not match the URL's " + field + " \"" +
                                                      *expected + "\"");
        }
      }
      auto ticket = r.required_id("ticket_id");
      if (!ticket) return std::move(ticket).err();
      auto txn = r.required_id("transaction_id");
      if (!txn) return std::move(txn).err();
      auto type = r.optional_string("type");
      if (!type) return std::move(type).err();
      if (type->empty()) return bad_payload(where + ".type", "required (RT's transaction type, e.g. Create)");
      auto created = r.optional_string("created");
      if (!created) return std::move(created).err();
      if (created->empty()) return bad_payload(where + ".created", "required (the transaction's Created time)");
      auto when = parse_rt_time(*created);
      if (!when) return bad_payload(where + ".created", std::move(when).err().message);

      event ev;
      ev.tenant = tenant_;
      ev.host = host_;
      ev.ticket_id = *ticket;
      ev.host_event_id = "txn:" + *txn;
      ev.occurred_at = *when;
      auto requester = r.person("requestor");
      if (!requester) return std::move(requester).err();
      ev.requester = std::move(requester).value();
      if (!ev.requester.empty() && ev.requester.role.empty()) ev.requester.role = "customer";
      auto author = r.person("creator");
      if (!author) return std::move(author).err();
      ev.author = std::move(author).value();
      if (!ev.author.empty() && ev.author.role.empty()) {
        if (ev.author.name == "RT_System") ev.author.role = "system";
        else if (!ev.author.email.empty() && !ev.requester.email.empty() && iequals(ev.author.email, ev.requester.email))
          ev.author.role = "customer";
        else ev.author.role = "agent";
      }
      for (auto [name, slot] : {std::pair{"subject", &ev.subject}, std::pair{"content", &ev.text},
                                std::pair{"channel", &ev.channel}, std::pair{"queue", &ev.group}}) {
        auto v = r.optional_string(name);
        if (!v) return std::move(v).err();
        *slot = std::move(v).value();
      }
      if (ev.group.empty()) ev.group = s_.queue;

      auto field = r.optional_string("field");
      if (!field) return std::move(field).err();
      const json old_value = j.value("old", json());
      const json new_value = j.value("new", json());
      for (auto [name, v] : {std::pair{"old", &old_value}, std::pair{"new", &new_value}}) {
        if (!v->is_null() && !v->is_string() && !v->is_number()) {
          return bad_payload(where + "." + name, std::string("expected a string, a number or null, got ") +
                                                     v->type_name());
        }
      }

      if (*type == "Create") {
        ev.type = event_type::ticket_created;
        if (ev.channel.empty()) ev.channel = "email";
      } else if (*type == "Correspond" || *type == "Comment") {
        ev.type = event_type::ticket_commented;
        ev.visibility = *type == "Correspond" ? "public" : "internal";
      } else if (*type == "Status" || (*type == "Set" && *field == "Status")) {
        const std::string from = scalar_text(old_value);
        const std::string to = scalar_text(new_value);
        if (to.empty()) return bad_payload(where + ".new", "required for a Status transaction (the new status)");
        if (to == "resolved") {
          ev.type = event_type::ticket_solved;
          // The scrip adds the agent's last reply, from which closeloop may draft a KB article.
          auto resolution = r.optional_string("resolution");
          if (!resolution) return std::move(resolution).err();
          if (!resolution->empty()) ev.data = {{"resolution", std::move(resolution).value()}};
        } else if (inactive_status(to)) {
          ev.type = event_type::ticket_closed;
        } else if (inactive_status(from)) {
          ev.type = event_type::ticket_reopened;
        } else {
          ev.type = event_type::ticket_updated;
        }
        ev.changes = {{"status", {{"from", old_value}, {"to", new_value}}}};
      } else if (*type == "Set" || *type == "CustomField") {
        if (field->empty()) return bad_payload(where + ".field", "required for a " + *type + " transaction");
        std::string name;
        if (*type == "Set") {
          name = canonical_set_field(*field);
        } else {
          name = *field;
          for (const auto& [canonical, rt_name] : s_.custom_fields) {
            if (rt_name == *field && canonical != "idempotency_key") name = canonical;
          }
        }
        ev.type = event_type::ticket_updated;
        ev.changes = {{name, {{"from", old_value}, {"to", new_value}}}};
      } else {
        continue;  // AddWatcher, EmailRecord, ...: nothing closeloop acts on
      }
      out.push_back(std::move(ev));
    }
    return out;
  } catch (const std::exception& e) {
    return make_error(errc::invalid_argument, std::string("body: ") + parser_message(e));
  }
}

}  // namespace closeloop::adapters::request_tracker
