// zendesk: the inbound half — the webhook signature (verify) and the two payload shapes Zendesk
// webhooks send (translate): closeloop's trigger payload (manifests/zendesk/requirements.json)
// and Zendesk's event envelope (zen:event-type:ticket.*). See README.md in this folder.
#include <algorithm>
#include <exception>

#include "common/crypto.hpp"
#include "common/vendor_util.hpp"
#include "zendesk/zendesk_adapter.hpp"

namespace closeloop::adapters::zendesk {
namespace {

using nlohmann::json;
using util::parser_message;

error unauthorized(std::string msg) { return make_error(errc::unauthorized, std::move(msg)); }
using util::bad_payload;

// Placeholders render as strings; ids may also come as numbers.
std::string text_of(const json& obj, const char* field) {
  if (!obj.is_object()) return {};
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
  if (it->is_boolean()) return it->get<bool>() ? "true" : "false";
  return {};
}

const json& object_at(const json& obj, const char* field) {
  static const json empty = json::object();
  if (!obj.is_object()) return empty;
  auto it = obj.find(field);
  return it != obj.end() && it->is_object() ? *it : empty;
}

result<std::string> ticket_id_of(const json& v, const std::string& where) {
  std::string id;
  if (v.is_number_integer() && v.get<std::int64_t>() > 0) id = std::to_string(v.get<std::int64_t>());
  if (v.is_string()) id = v.get<std::string>();
  if (id.empty() || id.size() > 18 || !std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return bad_payload(where, "expected a Zendesk ticket id (digits), got " + describe_value(v));
  }
  return id;
}

result<timestamp> time_of(const json& obj, const char* field, const std::string& where) {
  const std::string t = text_of(obj, field);
  if (t.empty()) return bad_payload(where, "required (an ISO-8601 date-time)");
  auto r = parse_rfc3339(t);
  if (!r) return bad_payload(where, "expected an ISO-8601 date-time, got \"" + t + "\"");
  return r;
}

// {{ticket.tags}} renders as "a b c"; Zendesk's event detail carries an array.
std::vector<std::string> tags_of(const json& v) {
  std::vector<std::string> out;
  if (v.is_array()) {
    for (const auto& t : v) {
      if (t.is_string() && !t.get_ref<const std::string&>().empty()) out.push_back(t.get<std::string>());
    }
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    std::size_t i = 0;
    while (i < s.size()) {
      const std::size_t j = std::min(s.find(' ', i), s.size());
      if (j > i) out.push_back(s.substr(i, j - i));
      i = j + 1;
    }
  }
  return out;
}

// {{ticket.via}} ("Web Form", "Mail", "API", "Chat", "Phone call") or via.channel ("web", "email").
std::string channel_of(std::string via) {
  via = to_lower(via);
  if (via.find("mail") != std::string::npos) return "email";
  if (via.find("web") != std::string::npos) return "web";
  if (via.find("chat") != std::string::npos || via.find("messaging") != std::string::npos) return "chat";
  if (via.find("phone") != std::string::npos || via.find("voice") != std::string::npos) return "phone";
  if (via.find("api") != std::string::npos) return "api";
  return via;
}

bool truthy(const json& obj, const char* field) {
  const std::string t = to_lower(text_of(obj, field));
  return t == "true" || t == "1" || t == "yes";
}

party party_of(const json& p) {
  party out;
  out.id = text_of(p, "id");
  out.email = text_of(p, "email");
  out.name = text_of(p, "name");
  return out;
}

// Zendesk roles: end-user -> customer; agent, admin -> agent. Without a role: the requester's
// address is the customer, no id is the system (a trigger acting alone), anyone else an agent.
void assign_role(party& p, const std::string& role, const party& requester) {
  const std::string r = to_lower(role);
  if (r == "end-user" || r == "end_user" || r == "customer") {
    p.role = "customer";
  } else if (r == "agent" || r == "admin") {
    p.role = "agent";
  } else if (!p.email.empty() && iequals(p.email, requester.email)) {
    p.role = "customer";
  } else if (p.id.empty() || p.id == "-1") {
    p.role = "system";
  } else {
    p.role = "agent";
  }
}

std::string upper_status_to_canonical(const std::string& s) { return to_lower(s); }

bool inactive(const std::string& status) {
  const std::string s = to_lower(status);
  return s == "solved" || s == "closed";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// verify: base64(HMAC-SHA256(secret, timestamp + body)), timestamp ISO-8601 within the tolerance

result<void> zendesk_adapter::verify(const inbound_request& req, timestamp now) const {
  if (s_.webhook_secret.empty()) {
    return unauthorized("tenants[" + tenant_ + "].hosts[" + host_ +
                        "].webhook_secret is not configured: Zendesk webhooks are refused");
  }
  const std::string* sig = req.header(signature_header);
  if (sig == nullptr || sig->empty()) return unauthorized("missing X-Zendesk-Webhook-Signature header");
  const std::string* ts = req.header(timestamp_header);
  if (ts == nullptr || ts->empty()) return unauthorized("missing X-Zendesk-Webhook-Signature-Timestamp header");
  auto at = parse_rfc3339(*ts);
  if (!at) return unauthorized("X-Zendesk-Webhook-Signature-Timestamp is not an ISO-8601 date-time");
  const auto tolerance_s = std::chrono::duration_cast<std::chrono::seconds>(env_.signature_tolerance).count();
  if (now - *at > env_.signature_tolerance) {
    return unauthorized("X-Zendesk-Webhook-Signature-Timestamp is older than " + std::to_string(tolerance_s) + " s");
  }
  if (*at - now > env_.signature_tolerance) {
    return unauthorized("X-Zendesk-Webhook-Signature-Timestamp is more than " + std::to_string(tolerance_s) +
                        " s in the future");
  }
  auto given = crypto::base64_decode(*sig);
  if (!given) return unauthorized("X-Zendesk-Webhook-Signature is not base64");
  std::string signed_text = *ts;
  signed_text += req.body;
  if (!crypto::constant_time_equal(*given, crypto::hmac_sha256(s_.webhook_secret, signed_text))) {
    return unauthorized("X-Zendesk-Webhook-Signature does not match (wrong secret or modified body)");
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// translate

namespace {

// closeloop's trigger payload: {"event": "ticket.solved", "ticket": {...}, "current_user": {...}}.
result<std::vector<event>> from_trigger(const json& j, event base) {
  const json& t = j["ticket"];
  const std::string name = text_of(j, "event");
  static const std::pair<std::string_view, event_type> known[] = {
      {"ticket.created", event_type::ticket_created},   {"ticket.commented", event_type::ticket_commented},
      {"ticket.updated", event_type::ticket_updated},   {"ticket.solved", event_type::ticket_solved},
      {"ticket.reopened", event_type::ticket_reopened}, {"ticket.closed", event_type::ticket_closed},
  };
  auto k = std::find_if(std::begin(known), std::end(known), [&](const auto& p) { return p.first == name; });
  if (k == std::end(known)) return std::vector<event>{};  // a trigger closeloop does not use
  base.type = k->second;
  auto id = ticket_id_of(t.value("id", json()), "ticket.id");
  if (!id) return std::move(id).err();
  base.ticket_id = *id;
  auto updated = time_of(t, "updated_at", "ticket.updated_at");
  if (!updated) return std::move(updated).err();
  base.occurred_at = *updated;
  const std::string stamp = text_of(t, "updated_at");
  base.subject = text_of(t, "subject");
  base.group = text_of(t, "group");
  base.tags = tags_of(t.value("tags", json()));
  base.requester = party_of(object_at(t, "requester"));
  base.requester.role = "customer";
  base.author = party_of(object_at(j, "current_user"));
  assign_role(base.author, text_of(object_at(j, "current_user"), "role"), base.requester);
  const json& comment = object_at(t, "latest_comment");
  const std::string status = text_of(t, "status");
  switch (base.type) {
    case event_type::ticket_created: {
      if (auto c = time_of(t, "created_at", "ticket.created_at"); c) base.occurred_at = *c;
      base.text = text_of(t, "description");
      if (base.text.empty()) base.text = text_of(comment, "body");
      base.channel = channel_of(text_of(t, "via"));
      if (base.author.empty()) base.author = base.requester;
      base.host_event_id = "zd:" + base.ticket_id + ":created";
      break;
    }
    case event_type::ticket_commented: {
      if (!comment.contains("body")) return bad_payload("ticket.latest_comment.body", "required for ticket.commented");
      base.text = text_of(comment, "body");
      base.visibility = truthy(comment, "public") ? "public" : "internal";
      party author = party_of(object_at(comment, "author"));
      if (!author.empty()) {
        assign_role(author, text_of(object_at(comment, "author"), "role"), base.requester);
        base.author = author;
      }
      const std::string cid = text_of(comment, "id");
      base.host_event_id = "zd:" + base.ticket_id + ":comment:" + (cid.empty() ? stamp : cid);
      break;
    }
    case event_type::ticket_solved: {
      base.changes = {{"status", {{"from", nullptr}, {"to", "solved"}}}};
      // The agent's answer, from which a KB article may be drafted.
      std::string resolution = text_of(object_at(t, "latest_public_comment"), "body");
      if (resolution.empty()) resolution = text_of(t, "latest_public_comment");
      if (!resolution.empty()) base.data["resolution"] = resolution;
      base.host_event_id = "zd:" + base.ticket_id + ":solved:" + stamp;
      break;
    }
    case event_type::ticket_reopened:
      base.changes = {{"status", {{"from", "solved"}, {"to", status.empty() ? "open" : to_lower(status)}}}};
      base.host_event_id = "zd:" + base.ticket_id + ":reopened:" + stamp;
      break;
    case event_type::ticket_closed:
      base.host_event_id = "zd:" + base.ticket_id + ":closed:" + stamp;
      break;
    default: {
      if (j.contains("changes")) {
        if (!j["changes"].is_object()) return bad_payload("changes", "expected an object {field: {from, to}}");
        base.changes = j["changes"];
      } else {
        base.changes = {{"status", {{"from", nullptr}, {"to", to_lower(status)}}},
                        {"priority", {{"from", nullptr}, {"to", to_lower(text_of(t, "priority"))}}}};
      }
      base.host_event_id = "zd:" + base.ticket_id + ":updated:" + stamp;
    }
  }
  std::vector<event> out;
  out.push_back(std::move(base));
  return out;
}

// Zendesk's event envelope: {"type": "zen:event-type:ticket.status_changed", "id": ..., "time": ...,
// "detail": {ticket core fields}, "event": {what changed}}.
result<std::vector<event>> from_envelope(const json& j, event base) {
  const std::string type = text_of(j, "type");
  constexpr std::string_view prefix = "zen:event-type:ticket.";
  if (type.rfind(prefix, 0) != 0) return std::vector<event>{};  // user, organization, ... events
  const std::string what = type.substr(prefix.size());
  const std::string id = text_of(j, "id");
  if (id.empty()) return bad_payload("id", "required (Zendesk's event id)");
  base.host_event_id = "zd:" + id;
  auto at = time_of(j, "time", "time");
  if (!at) return std::move(at).err();
  base.occurred_at = *at;
  if (!j.contains("detail") || !j["detail"].is_object()) return bad_payload("detail", "required (the ticket's fields)");
  const json& d = j["detail"];
  auto tid = ticket_id_of(d.value("id", json()), "detail.id");
  if (!tid) return std::move(tid).err();
  base.ticket_id = *tid;
  base.subject = text_of(d, "subject");
  base.tags = tags_of(d.value("tags", json()));
  base.requester.id = text_of(d, "requester_id");
  base.requester.role = "customer";
  base.channel = channel_of(text_of(object_at(d, "via"), "channel"));
  const json& ev = object_at(j, "event");
  if (what == "created") {
    base.type = event_type::ticket_created;
    base.text = text_of(d, "description");
    base.author = base.requester;
  } else if (what == "comment_added") {
    base.type = event_type::ticket_commented;
    const json& c = object_at(ev, "comment");
    base.text = text_of(c, "body");
    base.visibility = truthy(c, "is_public") ? "public" : "internal";
    const json& author = object_at(c, "author");
    base.author = party_of(author);
    base.author.role = truthy(author, "is_staff") ? "agent" : base.author.id == base.requester.id ? "customer" : "agent";
  } else if (what == "status_changed") {
    const std::string from = text_of(ev, "previous");
    const std::string to = text_of(ev, "current").empty() ? text_of(object_at(ev, "current"), "status")
                                                          : text_of(ev, "current");
    if (to.empty()) return bad_payload("event.current", "required for ticket.status_changed");
    base.changes = {{"status", {{"from", from.empty() ? json(nullptr) : json(to_lower(from))}, {"to", to_lower(to)}}}};
    if (iequals(to, "solved")) {
      base.type = event_type::ticket_solved;
    } else if (iequals(to, "closed")) {
      base.type = event_type::ticket_closed;
    } else if (inactive(from)) {
      base.type = event_type::ticket_reopened;
    } else {
      base.type = event_type::ticket_updated;
    }
  } else if (what == "priority_changed" || what == "group_assignment_changed" || what == "agent_assignment_changed" ||
             what == "subject_changed") {
    base.type = event_type::ticket_updated;
    std::string field = what.substr(0, what.rfind("_changed"));
    if (field == "group_assignment") field = "group";
    if (field == "agent_assignment") field = "owner";
    const json from = ev.value("previous", json());
    const json to = ev.value("current", json());
    base.changes = {{field, {{"from", from.is_string() ? json(upper_status_to_canonical(from.get<std::string>())) : from},
                             {"to", to.is_string() ? json(upper_status_to_canonical(to.get<std::string>())) : to}}}};
  } else if (what == "tags_changed") {
    base.type = event_type::ticket_updated;
    base.changes = {{"tags", {{"from", ev.value("tags_removed", json::array())}, {"to", ev.value("tags_added", json::array())}}}};
  } else {
    return std::vector<event>{};
  }
  std::vector<event> out;
  out.push_back(std::move(base));
  return out;
}

}  // namespace

result<std::vector<event>> zendesk_adapter::translate(const inbound_request& req) const {
  try {
    json j;
    try {
      j = json::parse(req.body);
    } catch (const json::parse_error& e) {
      return make_error(errc::invalid_argument, "body is not valid JSON: " + parser_message(e));
    }
    if (!j.is_object()) return bad_payload("body", std::string("expected a JSON object, got ") + j.type_name());
    for (const char* field : {"tenant", "host"}) {
      const std::string given = text_of(j, field);
      const std::string& expected = std::string_view(field) == "tenant" ? tenant_ : host_;
      if (!given.empty() && given != expected) {
        return bad_payload(field, "\"" + given + "\" does not match the URL's " + field + " \"" + expected + "\"");
      }
    }
    event base;
    base.tenant = tenant_;
    base.host = host_;
    if (j.contains("type") && j["type"].is_string() &&
        j["type"].get_ref<const std::string&>().rfind("zen:event-type:", 0) == 0) {
      return from_envelope(j, std::move(base));
    }
    if (!j.contains("event") || !j["event"].is_string()) {
      return bad_payload("event", "required: not a closeloop Zendesk trigger payload (\"event\", \"ticket\") nor a "
                                  "Zendesk event (\"type\": \"zen:event-type:...\")");
    }
    if (!j.contains("ticket") || !j["ticket"].is_object()) {
      return bad_payload("ticket", "required (an object with the ticket's placeholders)");
    }
    return from_trigger(j, std::move(base));
  } catch (const std::exception& e) {
    return make_error(errc::invalid_argument, std::string("zendesk payload: ") + parser_message(e));
  }
}

}  // namespace closeloop::adapters::zendesk
