// The freshdesk adapter's inbound half: the automation rule's shared secret and basic auth
// (verify) and its webhook body as canonical events (translate). See README.md, "Inbound".
#include <exception>

#include "common/crypto.hpp"
#include "common/headers.hpp"
#include "common/vendor_util.hpp"
#include "freshdesk/freshdesk_adapter.hpp"

namespace closeloop::adapters::freshdesk {

using namespace util;
using nlohmann::json;

result<void> freshdesk_adapter::verify(const inbound_request& req, timestamp /*now*/) const {
  if (s_.webhook_secret.empty() || s_.webhook_basic.empty()) {
    return make_error(errc::unauthorized, "webhook is not configured for this host: inbound webhooks are refused");
  }
  // Both are required: the secret header and the rule's basic auth. Freshdesk signs nothing, so
  // this is authentication of the sender, not integrity of the body.
  const std::string* secret = req.header(secret_header);
  if (secret == nullptr) return make_error(errc::unauthorized, "missing X-Closeloop-Secret header");
  const bool secret_ok = crypto::constant_time_equal(*secret, s_.webhook_secret);
  const std::string* auth = req.header("authorization");
  if (auth == nullptr) {
    return make_error(errc::unauthorized, "missing Authorization header (the rule's basic auth on the webhook URL)");
  }
  constexpr std::string_view scheme = "basic ";
  if (auth->size() <= scheme.size() || !iequals(std::string_view(*auth).substr(0, scheme.size()), scheme)) {
    return make_error(errc::unauthorized, "Authorization: expected HTTP Basic credentials");
  }
  auto decoded = crypto::base64_decode(std::string_view(*auth).substr(scheme.size()));
  if (!decoded) return make_error(errc::unauthorized, "Authorization: the Basic credentials are not valid base64");
  const bool basic_ok = crypto::constant_time_equal(*decoded, s_.webhook_basic);
  if (!secret_ok) return make_error(errc::unauthorized, "X-Closeloop-Secret does not match (wrong secret)");
  if (!basic_ok) return make_error(errc::unauthorized, "Authorization: the basic-auth user or password does not match");
  return {};
}

namespace {

// Reads the webhook body's fields (Freshdesk's simple-mode names, ticket_*) with errors that name them.
struct payload_reader {
  const json& j;
  std::string where;

  result<std::string> text(const char* name) const {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) return std::string();
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number()) return it->dump();
    return bad_payload(where + "." + name, std::string("expected a string, got ") + it->type_name());
  }
};

std::vector<std::string> split_tags(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    std::size_t a = cur.find_first_not_of(" \t");
    std::size_t b = cur.find_last_not_of(" \t");
    if (a != std::string::npos) out.push_back(cur.substr(a, b - a + 1));
    cur.clear();
  };
  for (char c : s) {
    if (c == ',') flush();
    else cur += c;
  }
  flush();
  return out;
}

std::string channel_of(const std::string& source) {
  std::string s = to_lower(source);
  if (s == "portal" || s == "feedback widget" || s == "feedback_widget") return "web";
  if (s == "outbound email") return "email";
  std::string out;
  for (char c : s) out += c == ' ' ? '_' : c;
  return out;
}

struct kind_info {
  std::string_view name;
  event_type type;
};
constexpr kind_info kinds[] = {
    {"created", event_type::ticket_created},      {"customer_reply", event_type::ticket_commented},
    {"agent_reply", event_type::ticket_commented}, {"note", event_type::ticket_commented},
    {"resolved", event_type::ticket_solved},      {"closed", event_type::ticket_closed},
    {"reopened", event_type::ticket_reopened},    {"updated", event_type::ticket_updated},
};

std::string kind_list() {
  std::string out;
  for (const auto& k : kinds) out += (out.empty() ? "" : ", ") + std::string(k.name);
  return out;
}

}  // namespace

result<std::vector<event>> freshdesk_adapter::translate(const inbound_request& req) const {
  try {
    auto parsed = parse_json_body(req.body);
    if (!parsed) return std::move(parsed).err();
    const json body = std::move(parsed).value();
    if (!body.is_object()) {
      return bad_payload("body", std::string("expected a Freshdesk webhook object, got ") + body.type_name());
    }
    // Simple mode wraps the fields in "freshdesk_webhook"; advanced mode (our JSON template) does not.
    const json* fields = &body;
    std::string where = "body";
    if (auto w = body.find("freshdesk_webhook"); w != body.end()) {
      if (!w->is_object()) return bad_payload("body.freshdesk_webhook", std::string("expected an object, got ") + w->type_name());
      fields = &*w;
      where = "body.freshdesk_webhook";
    }
    payload_reader r{*fields, where};

    for (auto [field, expected] : {std::pair{"tenant", &tenant_}, std::pair{"host", &host_}}) {
      auto given = r.text(field);
      if (!given) return std::move(given).err();
      if (!given->empty() && *given != *expected) {
        return bad_payload(where + "." + field,
                           "\"" + *given + "\" does not match the URL's " + field + " \"" + *expected + "\"");
      }
    }

    auto kind = r.text("event");
    if (!kind) return std::move(kind).err();
    std::string kind_name = *kind;
    if (kind_name.empty()) kind_name = query_param(req.target, "event").value_or("");
    if (kind_name.empty()) {
      return bad_payload(where + ".event", "required, in the body or as ?event= on the webhook URL (one of " +
                                               kind_list() + ")");
    }
    const kind_info* k = nullptr;
    for (const auto& candidate : kinds) {
      if (candidate.name == kind_name) k = &candidate;
    }
    if (k == nullptr) return bad_payload(where + ".event", "unknown \"" + kind_name + "\" (expected one of " + kind_list() + ")");

    auto ticket_it = fields->find("ticket_id");
    if (ticket_it == fields->end() || ticket_it->is_null()) {
      return bad_payload(where + ".ticket_id", "required (the rule's {{ticket.id}})");
    }
    auto ticket = id_text(*ticket_it);
    if (!ticket || *ticket == "0") return bad_payload(where + ".ticket_id", "expected a Freshdesk ticket id, got " + describe_value(*ticket_it));

    event ev;
    ev.type = k->type;
    ev.tenant = tenant_;
    ev.host = host_;
    ev.ticket_id = *ticket;

    auto occurred = r.text("occurred_at");
    if (!occurred) return std::move(occurred).err();
    if (!occurred->empty()) {
      auto t = parse_rfc3339(*occurred);
      if (!t) return bad_payload(where + ".occurred_at", "expected an RFC 3339 date-time, got \"" + *occurred + "\"");
      ev.occurred_at = *t;
    } else if (req.received_at.time_since_epoch().count() != 0) {
      ev.occurred_at = req.received_at;  // Freshdesk's rules have no time placeholder
    } else {
      return bad_payload(where + ".occurred_at", "required when the request carries no receive time");
    }

    // The same rule firing for the same change sends the same body: a redelivery dedupes on it.
    // A ticket is created once, so created needs no more than the ticket id.
    ev.host_event_id = "fd:" + ev.ticket_id + ":" + kind_name;
    if (k->type != event_type::ticket_created) {
      ev.host_event_id += ":" + crypto::hex_encode(crypto::hmac_sha256("closeloop freshdesk", req.body)).substr(0, 20);
    }

    std::string vals[12];
    const char* names[12] = {"ticket_subject",        "ticket_description",         "ticket_status",
                             "ticket_priority",       "ticket_source",              "ticket_tags",
                             "ticket_group_name",     "ticket_latest_public_comment", "ticket_latest_private_comment",
                             "ticket_requester_name", "ticket_requester_email",     "ticket_agent_email"};
    for (int i = 0; i < 12; ++i) {
      auto v = r.text(names[i]);
      if (!v) return std::move(v).err();
      vals[i] = std::move(v).value();
    }
    const auto& [subject, description, status, prio, source, tags, group, public_comment, private_comment,
                 requester_name, requester_email_in, agent_email] = vals;
    std::string requester_email = requester_email_in;
    if (requester_email.empty()) {
      auto v = r.text("ticket_from_email");
      if (!v) return std::move(v).err();
      requester_email = *v;
    }
    auto agent_name = r.text("ticket_agent_name");
    if (!agent_name) return std::move(agent_name).err();

    ev.subject = subject;
    ev.group = group;
    ev.tags = split_tags(tags);
    if (!source.empty()) ev.channel = channel_of(source);
    ev.requester = party{"", requester_email, requester_name, "customer"};
    if (ev.requester.email.empty() && ev.requester.name.empty()) ev.requester.role.clear();
    const party agent{"", agent_email, *agent_name, "agent"};

    switch (k->type) {
      case event_type::ticket_created:
        ev.text = html_to_text(description);
        ev.author = ev.requester;
        if (ev.channel.empty()) ev.channel = "email";
        break;
      case event_type::ticket_commented:
        if (kind_name == "customer_reply") {
          ev.visibility = "public";
          ev.author = ev.requester;
          ev.text = html_to_text(public_comment);
        } else if (kind_name == "agent_reply") {
          ev.visibility = "public";
          ev.author = agent;
          ev.text = html_to_text(public_comment);
        } else {
          ev.visibility = "internal";
          ev.author = agent;
          ev.text = html_to_text(private_comment);
        }
        break;
      case event_type::ticket_solved: {
        ev.author = agent;
        // The agent's last public reply is the answer closeloop may draft a KB article from.
        std::string resolution = html_to_text(public_comment);
        if (!resolution.empty()) ev.data = {{"resolution", std::move(resolution)}};
        ev.changes = {{"status", {{"from", nullptr}, {"to", status.empty() ? "Resolved" : status}}}};
        break;
      }
      case event_type::ticket_closed:
      case event_type::ticket_reopened:
        ev.author = agent;
        if (!status.empty()) ev.changes = {{"status", {{"from", nullptr}, {"to", status}}}};
        break;
      default: {  // updated: the values the rule sent, as the new values
        ev.author = agent;
        json changes = json::object();
        if (!status.empty()) changes["status"] = {{"from", nullptr}, {"to", status}};
        if (!prio.empty()) changes["priority"] = {{"from", nullptr}, {"to", to_lower(prio)}};
        if (!group.empty()) changes["group"] = {{"from", nullptr}, {"to", group}};
        ev.changes = std::move(changes);
        break;
      }
    }
    if (ev.author.email.empty() && ev.author.name.empty()) ev.author = party{};
    std::vector<event> out;
    out.push_back(std::move(ev));
    return out;
  } catch (const std::exception& e) {
    return make_error(errc::invalid_argument, std::string("body: ") + parser_message(e));
  }
}

}  // namespace closeloop::adapters::freshdesk
