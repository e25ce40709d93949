#include "closeloop/engine.hpp"

#include <algorithm>
#include <string>

#include "closeloop/text.hpp"
#include "engine/actions.hpp"
#include "survey/survey_engine.hpp"
#include "kb_decide.hpp"
#include "priority.hpp"

namespace closeloop {
namespace {

using engine_detail::key_for;
using engine_detail::make_action;

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string fmt_confidence(double c) {
  int pct = static_cast<int>(c * 100 + 0.5);
  return std::to_string(pct) + "%";
}

// The priority rose to `p`: a higher priority has shorter targets, so the due times are
// recomputed from the ticket's creation and each kept when earlier (never extended); when one
// moved it is written with the priority's reason.
void move_due_earlier(const policy& pol, const event& ev, const ticket_state& state, priority p,
                      const std::string& tier, const std::string& reason, decision& d) {
  if (!state.created_at) return;
  const priority_rules::due_times old{state.sla_first_reply_due, state.sla_resolution_due};
  const auto now_due = priority_rules::earliest(old, priority_rules::compute_due(pol, *state.created_at, p, tier));
  if (now_due == old) return;
  d.next.sla_first_reply_due = now_due.first_reply;
  d.next.sla_resolution_due = now_due.resolution;
  if (pol.write_fields) {
    json fields = {{"priority_reason", reason}};
    if (now_due.first_reply) fields["sla_first_reply_due"] = priority_rules::format_due(*now_due.first_reply);
    if (now_due.resolution) fields["sla_resolution_due"] = priority_rules::format_due(*now_due.resolution);
    d.actions.push_back(
        make_action(ev, action_type::set_fields, key_for(ev, "set_fields"), {{"fields", std::move(fields)}}, true));
  }
  d.log.push_back("SLA due times moved earlier");
}

// Reopened: the resolution clock starts again from the reopening at the ticket's priority (a
// past due time would otherwise make the customer's next message "resolution overdue by 3 d").
// The first-reply target was met or missed once and stays as recorded.
void restart_resolution_due(const policy& pol, const event& ev, const ticket_state& state, decision& d) {
  if (!state.created_at) return;  // a ticket closeloop did not see created has no due times
  const auto due = priority_rules::compute_due(pol, ev.occurred_at, state.prio, state.tier).resolution;
  if (!due || due == state.sla_resolution_due) return;
  d.next.sla_resolution_due = due;
  if (pol.write_fields)
    d.actions.push_back(make_action(ev, action_type::set_fields, key_for(ev, "set_fields"),
                                    {{"fields", {{"sla_resolution_due", priority_rules::format_due(*due)}}}}, true));
  d.log.push_back("SLA resolution due restarted on reopening: " + priority_rules::format_due(*due));
}

void classify_into(const engine& eng, const classifier& clf, const classification* classified, const event& ev,
                   bool first_contact, const ticket_state& state, decision& d) {
  const policy& pol = eng.get_policy();
  classification c = classified ? *classified : clf.classify(ev);
  // Beyond the text: the customer's value tier and, on a later message, the service level.
  const std::string event_tier = customer_tier(ev);
  const std::string tier = event_tier.empty() ? state.tier : event_tier;
  d.next.tier = tier;
  priority_rules::apply_tier(pol, tier, c);
  if (!first_contact) priority_rules::apply_sla(pol, state, ev.occurred_at, c);
  if (first_contact) {
    if (d.next.subject.empty()) d.next.subject = truncate_utf8(ev.subject, 300);
    if (d.next.problem.empty()) d.next.problem = truncate_utf8(scrub_pii(ev.text), 4000);
  }
  d.next.language = c.language;
  d.next.sentiment = c.sentiment;
  if (first_contact) d.next.category = c.category;
  if (first_contact) d.next.kb["category_confidence"] = c.category_confidence;

  if (first_contact) {
    d.next.prio = c.prio;
    if (!d.next.created_at) d.next.created_at = ev.occurred_at;
    const auto due = priority_rules::compute_due(pol, *d.next.created_at, c.prio, tier);
    d.next.sla_first_reply_due = due.first_reply;
    d.next.sla_resolution_due = due.resolution;
    if (pol.write_fields) {
      json fields = {{"language", c.language},
                     {"sentiment", c.sentiment},
                     {"priority_reason", join(c.reasons, "; ")}};
      if (due.first_reply) fields["sla_first_reply_due"] = priority_rules::format_due(*due.first_reply);
      if (due.resolution) fields["sla_resolution_due"] = priority_rules::format_due(*due.resolution);
      // A learned model below its gate, or unsure of this ticket, suggests instead of writing.
      if (c.category_write) {
        fields["category"] = c.category;
        fields["category_confidence"] = c.category_confidence;
      }
      d.actions.push_back(make_action(ev, action_type::set_fields, key_for(ev, "set_fields"),
                                      {{"fields", std::move(fields)}}, true));
      d.actions.push_back(make_action(ev, action_type::set_priority, key_for(ev, "set_priority"),
                                      {{"priority", to_string(c.prio)},
                                       {"label", label_zh(c.prio)},
                                       {"reasons", c.reasons}},
                                      true));
    }
    if (auto it = pol.routing.find(c.category); it != pol.routing.end()) {
      d.actions.push_back(make_action(ev, action_type::assign_group, key_for(ev, "assign_group"),
                                      {{"group", it->second}}, true));
      d.log.push_back("route to " + it->second);
    }
    if (pol.explain_in_note) {
      std::string category = "Category " + c.category + " (confidence " + fmt_confidence(c.category_confidence) +
                             (c.category_band.empty() ? "" : ", " + c.category_band) + ")";
      if (!c.category_write)
        category = "Category needs review" +
                   (c.category_suggestion.empty() ? std::string()
                                                  : ": suggested " + c.category_suggestion + " (confidence " +
                                                        fmt_confidence(c.category_confidence) + ", not written)");
      std::string note = "closeloop: priority " + std::string(to_string(c.prio)) + " (" +
                         std::string(label_zh(c.prio)) + ") because " + join(c.reasons, "; ") + ". " + category +
                         ", sentiment " + c.sentiment + ", language " + c.language + ".";
      if (due.first_reply) note += " First reply due " + priority_rules::format_due(*due.first_reply) + ".";
      if (due.resolution) note += " Resolution due " + priority_rules::format_due(*due.resolution) + ".";
      d.actions.push_back(make_action(ev, action_type::add_internal_note, key_for(ev, "note"),
                                      {{"body", std::move(note)}}, true));
    }
    d.log.push_back("classified: priority=" + std::string(to_string(c.prio)) + " category=" + c.category +
                    (c.category_write ? "" : " (suggested " + c.category_suggestion + ", needs review)") +
                    " sentiment=" + c.sentiment + " language=" + c.language);
    return;
  }

  // A later customer message can only raise the priority, never lower it silently.
  if (c.prio > state.prio) {
    d.next.prio = c.prio;
    std::vector<std::string> reasons = c.reasons;
    reasons.insert(reasons.begin(), "raised by a customer reply");
    d.actions.push_back(make_action(ev, action_type::set_priority, key_for(ev, "set_priority"),
                                    {{"priority", to_string(c.prio)}, {"label", label_zh(c.prio)}, {"reasons", reasons}},
                                    true));
    if (pol.explain_in_note)
      d.actions.push_back(make_action(
          ev, action_type::add_internal_note, key_for(ev, "note"),
          {{"body", "closeloop: priority raised to " + std::string(to_string(c.prio)) + " (" +
                        std::string(label_zh(c.prio)) + ") because " + join(c.reasons, "; ") + "."}},
          true));
    d.log.push_back("priority raised to " + std::string(to_string(c.prio)));
    move_due_earlier(pol, ev, state, c.prio, tier, join(reasons, "; "), d);
  }
}

void on_solved(const policy& pol, const event& ev, const ticket_state& state, decision& d) {
  d.next.status = ev.type == event_type::ticket_closed ? "closed" : "solved";
  if (ev.type == event_type::ticket_solved || !state.solved_at) {
    d.next.solve_count = state.solve_count + 1;
    d.next.solved_at = ev.occurred_at;
  }
  kb_decide::on_solved(pol, ev, d);
  survey_engine::on_solved(pol, ev, state, d);
}

}  // namespace

bool engine::classifies(const event& ev) noexcept {
  return ev.type == event_type::ticket_created ||
         (ev.type == event_type::ticket_commented && ev.visibility == "public" && ev.author.role != "agent" &&
          ev.author.role != "system");
}

decision engine::decide(const event& ev, const ticket_state& state, const clock& clk,
                          const survey::ledger* ledger, const classification* classified) const {
  decision d;
  d.next = state;
  d.next.known = true;
  if (!ev.requester.email.empty()) d.next.requester_email = ev.requester.email;
  if (!ev.requester.name.empty()) d.next.requester_name = ev.requester.name;
  if (!state.last_event_at || ev.occurred_at > *state.last_event_at) d.next.last_event_at = ev.occurred_at;

  switch (ev.type) {
    case event_type::ticket_created:
      d.next.status = "new";
      classify_into(*this, classifier_, classified, ev, true, state, d);
      kb_decide::record(policy_, ev, d);
      kb_decide::on_created(policy_, ev, d);
      break;
    case event_type::ticket_commented:
      kb_decide::record(policy_, ev, d);
      if (ev.visibility == "public" && ev.author.role == "agent" && !state.first_reply_at)
        d.next.first_reply_at = ev.occurred_at;  // the SLA's first reply
      if (classifies(ev)) {
        classify_into(*this, classifier_, classified, ev, !state.known, state, d);
      } else {
        d.log.push_back("comment by " + (ev.author.role.empty() ? std::string("unknown") : ev.author.role) +
                        " (" + ev.visibility + "): nothing to decide");
      }
      break;
    case event_type::ticket_updated:
      // An agent changing what closeloop set is a labelled example for learning.
      for (const auto& [field, change] : ev.changes.items()) {
        if (field == "category" || field == "priority" || field == "sentiment" || field == "language") {
          d.next.corrections.push_back({{"field", field},
                                        {"from", change.value("from", json())},
                                        {"to", change.value("to", json())},
                                        {"at", format_rfc3339(ev.occurred_at)},
                                        {"by", ev.author.id}});
          if (field == "category" && change.contains("to") && change["to"].is_string())
            d.next.category = change["to"].get<std::string>();
          // An agent raising the priority: the ticket is that urgent now, and its due times follow.
          if (const json to = change.value("to", json()); field == "priority" && to.is_string())
            if (const auto p = priority_from_string(to.get<std::string>()); p && *p > state.prio) {
              d.next.prio = *p;
              move_due_earlier(policy_, ev, state, *p, state.tier,
                               "priority set to " + std::string(to_string(*p)) + " by an agent", d);
            }
          d.log.push_back("correction recorded: " + field);
        }
      }
      if (survey_engine::is_merge(ev)) survey_engine::on_cancel(ev, state, "merged", d);
      if (d.log.empty()) d.log.push_back("update: nothing to decide");
      break;
    case event_type::ticket_solved:
    case event_type::ticket_closed:
      kb_decide::record(policy_, ev, d);
      on_solved(policy_, ev, state, d);
      break;
    case event_type::ticket_reopened:
      d.next.status = "open";
      restart_resolution_due(policy_, ev, state, d);
      survey_engine::on_cancel(ev, state, "reopened", d);
      kb_decide::on_reopened(ev, d);
      break;
    case event_type::timer_fired:
      survey_engine::on_timer(policy_, ev, state, clk, ledger, d);
      break;
    case event_type::survey_answered:
      survey_engine::on_answer(policy_, classifier_, ev, state, ledger, d);
      kb_decide::on_answer(policy_, ev, d);
      break;
    case event_type::survey_expired:
      survey_engine::on_expired(ev, state, d);
      break;
  }
  return d;
}

bool outbound_webhook::wants(std::string_view event) const noexcept {
  return std::find(events.begin(), events.end(), event) != events.end();
}

const outbound_webhook* policy::find_webhook(std::string_view id) const noexcept {
  for (const auto& w : webhooks)
    if (w.id == id) return &w;
  return nullptr;
}

std::pair<int, int> survey_policy::score_range(std::string_view kind) noexcept {
  if (kind == "nps") return {0, 10};
  if (kind == "ces") return {1, 7};
  return {1, 5};
}

int survey_policy::bad_at_or_below(std::string_view kind) const noexcept {
  if (escalation.max_score && kind == this->kind) return *escalation.max_score;
  if (kind == "nps") return 6;
  if (kind == "ces") return 3;
  return 2;
}

json to_json(const ticket_state& s) {
  json j = {{"known", s.known},        {"status", s.status},       {"language", s.language},
            {"category", s.category},  {"sentiment", s.sentiment}, {"priority", to_string(s.prio)},
            {"requester_email", s.requester_email}, {"survey", s.survey}, {"solve_count", s.solve_count},
            {"corrections", s.corrections}, {"subject", s.subject}, {"problem", s.problem},
            {"requester_name", s.requester_name}, {"survey_score", s.survey_score}, {"kb", s.kb},
            {"survey_detail", s.survey_detail}};
  if (s.solved_at) j["solved_at"] = format_rfc3339(*s.solved_at);
  if (s.last_event_at) j["last_event_at"] = format_rfc3339(*s.last_event_at);
  if (s.created_at) j["created_at"] = format_rfc3339(*s.created_at);
  if (!s.tier.empty()) j["tier"] = s.tier;
  if (s.first_reply_at) j["first_reply_at"] = format_rfc3339(*s.first_reply_at);
  if (s.sla_first_reply_due) j["sla_first_reply_due"] = format_rfc3339(*s.sla_first_reply_due);
  if (s.sla_resolution_due) j["sla_resolution_due"] = format_rfc3339(*s.sla_resolution_due);
  return j;
}

ticket_state ticket_state_from_json(const json& j) {
  ticket_state s;
  if (!j.is_object()) return s;
  auto str = [&](const char* k, std::string& out) {
    if (auto it = j.find(k); it != j.end() && it->is_string()) out = it->get<std::string>();
  };
  auto ts = [&](const char* k, std::optional<timestamp>& out) {
    if (auto it = j.find(k); it != j.end() && it->is_string())
      if (auto t = parse_rfc3339(it->get<std::string>())) out = *t;
  };
  if (auto it = j.find("known"); it != j.end() && it->is_boolean()) s.known = it->get<bool>();
  str("status", s.status);
  str("language", s.language);
  str("category", s.category);
  str("sentiment", s.sentiment);
  str("requester_email", s.requester_email);
  str("survey", s.survey);
  str("subject", s.subject);
  str("problem", s.problem);
  str("requester_name", s.requester_name);
  if (auto it = j.find("survey_score"); it != j.end()) s.survey_score = *it;
  if (auto it = j.find("survey_detail"); it != j.end() && it->is_object()) s.survey_detail = *it;
  if (auto it = j.find("kb"); it != j.end() && it->is_object()) s.kb = *it;
  if (auto it = j.find("priority"); it != j.end() && it->is_string())
    s.prio = priority_from_string(it->get<std::string>()).value_or(priority::normal);
  if (auto it = j.find("solve_count"); it != j.end() && it->is_number_integer()) s.solve_count = it->get<int>();
  if (auto it = j.find("corrections"); it != j.end() && it->is_array()) s.corrections = *it;
  ts("solved_at", s.solved_at);
  ts("last_event_at", s.last_event_at);
  ts("created_at", s.created_at);
  str("tier", s.tier);
  ts("first_reply_at", s.first_reply_at);
  ts("sla_first_reply_due", s.sla_first_reply_due);
  ts("sla_resolution_due", s.sla_resolution_due);
  return s;
}

}  // namespace closeloop
