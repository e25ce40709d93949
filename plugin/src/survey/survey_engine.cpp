// The survey half of engine::decide. See survey_engine.hpp and README.md ("Surveys").
#include "survey/survey_engine.hpp"

#include <algorithm>
#include <string>

#include "engine/actions.hpp"

namespace closeloop::survey_engine {
namespace {

using engine_detail::key_for;
using engine_detail::make_action;
using engine_detail::ticket_key;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string days_text(std::chrono::seconds s) {
  const auto h = s.count() / 3600;
  if (h % 24 == 0) return std::to_string(h / 24) + (h == 24 ? " day" : " days");
  return std::to_string(h) + " h";
}

std::string str(const json& j, const char* key, std::string fallback = {}) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

int integer(const json& j, const char* key, int fallback = 0) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

bool flag(const json& j, const char* key) {
  if (!j.is_object()) return false;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::optional<timestamp> time_of(const json& j, const char* key) {
  const std::string s = str(j, key);
  if (s.empty()) return std::nullopt;
  auto t = parse_rfc3339(s);
  return t ? std::optional<timestamp>(*t) : std::nullopt;
}

// A timer through the store's schedule_survey handling (params.timer names its kind).
action timer_action(const event& ev, const std::string& key, const std::string& timer, const std::string& survey,
                    timestamp due, int seq) {
  action a = make_action(ev, action_type::schedule_survey, key,
                         {{"survey", survey}, {"due_at", format_rfc3339(due)}, {"timer", timer}, {"seq", seq}}, false);
  a.not_before = due;
  return a;
}

survey::record row_of(const ticket_state& state) {
  survey::record r;
  r.seq = integer(state.survey_detail, "seq", state.solve_count);
  r.definition = str(state.survey_detail, "definition");
  r.kind = str(state.survey_detail, "kind");
  return r;
}

const survey::definition& definition_for(const survey_policy& sp, const ticket_state& state, const event& ev) {
  std::string id = ev.data.is_object() ? str(ev.data, "survey") : "";
  if (id.empty()) id = str(state.survey_detail, "definition");
  if (const auto* d = id.empty() ? nullptr : sp.find_definition(id)) return *d;
  return sp.sent_definition();
}

// The field an answer's score is written to: the metric (csat/nps/ces) or the survey's own id.
std::string score_field(const survey::definition& d) { return d.kind == "custom" ? d.id : d.kind; }

int negative_threshold(const survey_policy& sp, const survey::definition& d) {
  if (sp.escalation.max_score && d.id == sp.sent_definition().id) return *sp.escalation.max_score;
  return d.negative_at_or_below();
}

std::string person_of(const survey_policy& sp, const ticket_state& state) {
  std::string key = str(state.survey_detail, "person_key");
  return key.empty() ? survey::normalize_email(state.requester_email, sp.throttle) : key;
}

// A readable line per answer for the internal note, in the survey's fallback language.
std::string describe_answers(const survey::definition& d, const json& answers) {
  std::string out;
  const std::string& lang = d.fallback_language;
  for (const auto& q : d.questions) {
    auto it = answers.find(q.id);
    if (it == answers.end() || q.id == d.score_question || q.id == "comment") continue;
    std::string value;
    auto label = [&](const std::string& id) {
      for (const auto& c : q.choices)
        if (c.id == id) return survey::text_in(c.label, lang, lang);
      return id;
    };
    if (it->is_array()) {
      for (const auto& v : *it) value += (value.empty() ? "" : ", ") + label(v.get<std::string>());
    } else if (it->is_string()) {
      value = q.type == survey::question_type::text ? "\"" + it->get<std::string>() + "\"" : label(it->get<std::string>());
    } else {
      value = it->dump();
    }
    out += "\n- " + survey::text_in(q.prompt, lang, lang) + " " + value;
  }
  return out;
}

const char* review_text(const std::string& lang) {
  if (lang == "zh-CN") return "感谢您的好评！如果愿意，可以在这里公开分享您的体验：";
  if (lang == "zh-TW") return "感謝您的好評！如果願意，可以在這裡公開分享您的體驗：";
  return "Thank you for the kind rating! If you have a minute, we would love a public review:";
}

void skip(decision& d, survey::record row, const std::string& why) {
  d.next.survey = "skipped";
  row.status = "skipped";
  row.note = why;
  d.survey_row = std::move(row);
  d.log.push_back("no survey: " + why);
}

// ---- the timers ---------------------------------------------------------------------------

void send(const policy& pol, const event& ev, const ticket_state& state, const clock& clk,
          const survey::ledger* ledger, decision& d) {
  const survey_policy& sp = pol.survey;
  survey::record row = row_of(state);
  if (state.survey != "scheduled") {
    d.log.push_back("survey timer ignored: survey is '" + state.survey + "'");
    return;
  }
  if (state.status != "solved" && state.status != "closed") {
    d.next.survey = "cancelled";
    row.status = "cancelled";
    row.cancelled_at = ev.occurred_at;
    row.note = "ticket is " + state.status;
    d.survey_row = std::move(row);
    d.log.push_back("survey not sent: ticket is " + state.status);
    return;
  }
  const timestamp now = clk.now();
  if (state.solved_at && now - *state.solved_at > duration_cast<milliseconds>(sp.max_age))
    return skip(d, row, "more than max_age since the ticket was solved");
  if (ledger && ledger->opted_out(ev.tenant, state.requester_email))
    return skip(d, row, "the customer opted out of surveys");
  const std::string person = person_of(sp, state);
  if (ledger && !person.empty() && sp.throttle.window.count() > 0) {
    const survey::person_record p = ledger->person(ev.tenant, person);
    if (p.last_sent_at && now - *p.last_sent_at < duration_cast<milliseconds>(sp.throttle.window))
      return skip(d, row, "throttled: " + person + " was last surveyed " + format_rfc3339(*p.last_sent_at) +
                              " (at most one survey per " + days_text(sp.throttle.window) + ")");
  }
  const std::string group = str(state.survey_detail, "segment");
  std::vector<survey::ledger_update::quota_use> uses;
  for (const auto& q : sp.quotas) {
    if (!q.group.empty() && q.group != group) continue;
    const timestamp start = survey::period_start(now, q.period, sp.hours.time_zone);
    if (ledger && ledger->quota_used(ev.tenant, q.segment(), start) >= q.max)
      return skip(d, row, "quota used up: " + std::to_string(q.max) + " per " + q.period + " for " +
                              (q.group.empty() ? std::string("all tickets") : "group " + q.group));
    uses.push_back({q.segment(), start});
  }
  const survey::definition& def = definition_for(sp, state, ev);
  const std::string lang = survey::choose_language(def, state.language, sp.fallback_language);
  d.actions.push_back(make_action(ev, action_type::send_survey, ticket_key(ev, "survey/send"),
                                  {{"survey", def.id},
                                   {"kind", def.kind},
                                   {"survey_id", row.seq},
                                   {"language", lang},
                                   {"ticket_subject", state.subject},
                                   {"requester_name", state.requester_name}},
                                  false));
  if (sp.reminder_enabled)
    d.actions.push_back(timer_action(ev, ticket_key(ev, "survey/reminder/" + std::to_string(row.seq)),
                                     "survey_reminder", def.id,
                                     survey::next_open(now + duration_cast<milliseconds>(sp.reminder_delay), sp.hours),
                                     row.seq));
  d.actions.push_back(timer_action(ev, ticket_key(ev, "survey/expiry/" + std::to_string(row.seq)), "survey_expiry",
                                   def.id, now + duration_cast<milliseconds>(sp.link_ttl), row.seq));
  d.ledger_writes = survey::ledger_update{person, now, json(), std::move(uses), json()};
  d.next.survey = "sent";
  d.next.survey_detail["sent_at"] = format_rfc3339(now);
  d.next.survey_detail["language"] = lang;
  d.next.survey_detail["definition"] = def.id;
  row.definition = def.id;
  row.kind = def.kind;
  row.status = "sent";
  row.sent_at = now;
  row.language = lang;
  row.person_key = person;
  d.survey_row = std::move(row);
  d.log.push_back("survey " + def.id + " sent (" + lang + ")");
}

void remind(const event& ev, const ticket_state& state, const clock& clk, const survey::ledger* ledger,
            decision& d) {
  if (state.survey != "sent") {
    d.log.push_back("reminder not sent: survey is '" + state.survey + "'");
    return;
  }
  if (ledger && ledger->opted_out(ev.tenant, state.requester_email)) {
    d.log.push_back("reminder not sent: the customer opted out of surveys");
    return;
  }
  if (state.status != "solved" && state.status != "closed") {
    d.log.push_back("reminder not sent: ticket is " + state.status);
    return;
  }
  const std::string def = str(state.survey_detail, "definition", "csat");
  d.actions.push_back(make_action(ev, action_type::send_survey, ticket_key(ev, "survey/remind"),
                                  {{"survey", def},
                                   {"kind", str(state.survey_detail, "kind", def)},
                                   {"survey_id", integer(state.survey_detail, "seq", state.solve_count)},
                                   {"language", str(state.survey_detail, "language", "en")},
                                   {"reminder", true},
                                   {"ticket_subject", state.subject},
                                   {"requester_name", state.requester_name}},
                                  false));
  d.next.survey = "reminded";
  survey::record row = row_of(state);
  row.status = "reminded";
  row.reminded_at = clk.now();
  d.survey_row = std::move(row);
  d.log.push_back("survey reminder sent");
}

void expire(const event& ev, const ticket_state& state, decision& d) {
  if (state.survey != "sent" && state.survey != "reminded") {
    d.log.push_back("survey expiry ignored: survey is '" + state.survey + "'");
    return;
  }
  d.next.survey = "expired";
  survey::record row = row_of(state);
  row.status = "expired";
  row.expired_at = ev.occurred_at;
  d.survey_row = std::move(row);
  d.log.push_back("survey expired unanswered");
}

// The worker found, at send time, that the customer had opted out after the invitation (or the
// reminder) was decided (server/survey.hpp, withdrawn_by_consent): it was not sent.
void withdrawn(const event& ev, const ticket_state& state, decision& d) {
  const std::string why = "the customer opted out of surveys before it went out";
  if (flag(ev.data, "reminder")) {
    d.log.push_back("reminder withdrawn: " + why);
    return;
  }
  if (state.survey != "sent") {
    d.log.push_back("withdrawal ignored: survey is '" + state.survey + "'");
    return;
  }
  d.actions.push_back(make_action(ev, action_type::cancel_survey, key_for(ev, "cancel_survey"),
                                  {{"reason", "invitation withdrawn: " + why}}, false));
  skip(d, row_of(state), "invitation withdrawn: " + why);
}

void recovery_due(const policy& pol, const event& ev, const ticket_state& state, decision& d) {
  const int seq = integer(state.survey_detail, "seq", 0);
  if (!flag(state.survey_detail, "escalated")) {
    d.log.push_back("recovery timer ignored: nothing was escalated");
    return;
  }
  if (state.solve_count > seq || state.status == "solved" || state.status == "closed") {
    d.log.push_back("recovery timer: the ticket was solved again in time");
    return;
  }
  const std::string msg = "closeloop: ticket " + ev.ticket_id + " got a negative survey answer " +
                          days_text(pol.survey.recovery) + " ago and is still not solved again";
  d.actions.push_back(make_action(ev, action_type::raise_alert, key_for(ev, "alert"),
                                  {{"level", "yellow"}, {"message", msg}}, false));
  d.actions.push_back(make_action(ev, action_type::add_internal_note, key_for(ev, "note"), {{"body", msg + "."}}, false));
  d.log.push_back("recovery overdue: alert raised");
}

}  // namespace

bool is_merge(const event& ev) {
  if (ev.type != event_type::ticket_updated || !ev.changes.is_object()) return false;
  if (ev.changes.contains("merged_into")) return true;
  auto st = ev.changes.find("status");
  return st != ev.changes.end() && st->is_object() && st->value("to", json()) == "merged";
}

void on_solved(const policy& pol, const event& ev, const ticket_state& state, decision& d) {
  const survey_policy& sp = pol.survey;
  if (!sp.enabled) {
    d.log.push_back("no survey: surveys are disabled");
    return;
  }
  if (state.survey == "scheduled" || state.survey == "sent" || state.survey == "reminded" ||
      state.survey == "answered") {
    d.log.push_back("no new survey: one is already " + state.survey + " for this ticket");
    return;
  }
  const survey::definition& def = sp.sent_definition();
  survey::record row;
  row.seq = d.next.solve_count;
  row.definition = def.id;
  row.kind = def.kind;
  row.scheduled_at = ev.occurred_at;
  row.segment = ev.group;
  row.person_key = survey::normalize_email(d.next.requester_email, sp.throttle);
  d.next.survey_detail = {{"seq", row.seq},         {"definition", def.id},   {"kind", def.kind},
                          {"segment", ev.group},    {"person_key", row.person_key}};
  const bool data = ev.data.is_object();
  if (std::any_of(ev.tags.begin(), ev.tags.end(), [&](const std::string& t) { return contains(sp.skip_tags, t); }))
    return skip(d, row, "the ticket has a skip tag");
  if (sp.skip_spam && (contains(ev.tags, "spam") || (data && flag(ev.data, "spam"))))
    return skip(d, row, "the ticket is spam");
  if (sp.skip_auto_closed && ((data && flag(ev.data, "auto_closed")) ||
                              (ev.type == event_type::ticket_closed && ev.author.role == "system")))
    return skip(d, row, "the ticket was closed automatically");
  if (!ev.group.empty() && contains(sp.skip_groups, ev.group))
    return skip(d, row, "group " + ev.group + " gets no surveys");
  if (auto at = row.person_key.rfind('@'); at != std::string::npos && contains(sp.internal_domains, row.person_key.substr(at + 1)))
    return skip(d, row, "the requester is internal (" + row.person_key.substr(at + 1) + ")");
  if (!survey::sampled(ev.tenant, ev.host, ev.ticket_id, sp.sample_rate))
    return skip(d, row, "not in the sample (rate " + std::to_string(sp.sample_rate).substr(0, 4) + ")");
  const timestamp due = survey::next_open(ev.occurred_at + duration_cast<milliseconds>(sp.delay), sp.hours);
  // One timer per solve (a ticket reopened and solved again gets a fresh schedule); the
  // invitation itself is keyed per ticket, so it can be sent only once.
  action a = make_action(ev, action_type::schedule_survey, ticket_key(ev, "survey/schedule/" + std::to_string(row.seq)),
                         {{"survey", def.id}, {"due_at", format_rfc3339(due)}, {"delay_s", sp.delay.count()},
                          {"seq", row.seq}},
                         false);
  a.not_before = due;
  d.actions.push_back(std::move(a));
  d.next.survey = "scheduled";
  d.next.survey_detail["due_at"] = format_rfc3339(due);
  row.status = "scheduled";
  row.due_at = due;
  d.survey_row = std::move(row);
  d.log.push_back("survey " + def.id + " scheduled for " + format_rfc3339(due));
}

void on_cancel(const event& ev, const ticket_state& state, const std::string& why, decision& d) {
  if (state.survey != "scheduled") return;
  d.actions.push_back(make_action(ev, action_type::cancel_survey, key_for(ev, "cancel_survey"),
                                  {{"reason", "ticket " + why + " before the survey was sent"}}, false));
  d.next.survey = "cancelled";
  survey::record row = row_of(state);
  row.status = "cancelled";
  row.cancelled_at = ev.occurred_at;
  row.note = "ticket " + why;
  d.survey_row = std::move(row);
  d.log.push_back("pending survey cancelled: ticket " + why);
}

void on_timer(const policy& pol, const event& ev, const ticket_state& state, const clock& clk,
              const survey::ledger* ledger, decision& d) {
  const std::string kind = str(ev.data, "kind");
  if (kind == "survey") return send(pol, ev, state, clk, ledger, d);
  if (kind == "survey_reminder") return remind(ev, state, clk, ledger, d);
  if (kind == "survey_expiry") return expire(ev, state, d);
  if (kind == "survey_recovery") return recovery_due(pol, ev, state, d);
  if (kind == "survey_withdrawn") return withdrawn(ev, state, d);
  d.log.push_back("timer of kind '" + kind + "' ignored");
}

void on_expired(const event& ev, const ticket_state& state, decision& d) { expire(ev, state, d); }

void on_answer(const policy& pol, const classifier& clf, const event& ev, const ticket_state& state,
               const survey::ledger* ledger, decision& d) {
  const survey_policy& sp = pol.survey;
  const json& data = ev.data;
  const std::string id = str(data, "survey");
  const survey::definition* def = sp.find_definition(id);
  if (!def) {
    d.log.push_back("answer ignored: no survey \"" + id + "\"");
    return;
  }
  json answers = data.is_object() && data.contains("answers") && data["answers"].is_object() ? data["answers"]
                                                                                               : json::object();
  const std::string comment = str(data, "comment");
  if (def->score() && !answers.contains(def->score_question) && data.is_object() && data.contains("score"))
    answers[def->score_question] = data["score"];
  if (const auto* c = def->find("comment"); c && c->type == survey::question_type::text && !comment.empty() &&
                                            !answers.contains("comment"))
    answers["comment"] = comment;
  auto checked = survey::validate_answers(*def, answers);
  if (!checked) {
    d.log.push_back("answer ignored: " + checked.err().message);
    return;
  }
  const json& detail = state.survey_detail;
  bool edit = false;
  if (state.survey == "answered") {
    const auto first = time_of(detail, "answered_at");
    if (!first || ev.occurred_at - *first > duration_cast<milliseconds>(sp.edit_window)) {
      d.log.push_back("answer ignored: answers can be changed for " + days_text(sp.edit_window) +
                      (first ? " after the first (" + format_rfc3339(*first) + ")" : std::string()) +
                      ", this one came later");
      return;
    }
    edit = true;
  } else if (state.survey != "sent" && state.survey != "reminded") {
    d.log.push_back("answer ignored: no invitation is open for this ticket (survey is '" + state.survey + "')");
    return;
  }
  const std::optional<int> score = checked->score;
  const auto* sq = def->score();
  const bool negative = score && *score <= negative_threshold(sp, *def);
  const int seq = integer(detail, "seq", state.solve_count);

  // Write-back: the score field and a note with every answer.
  if (score)
    d.actions.push_back(make_action(ev, action_type::set_fields, key_for(ev, "set_fields"),
                                    {{"fields", {{score_field(*def), *score}}}}, false));
  std::string body = "closeloop: the customer " + std::string(edit ? "changed their answer to" : "answered") +
                     " the " + def->id + " survey";
  if (score) body += ": " + std::to_string(*score) + "/" + std::to_string(sq->max);
  body += describe_answers(*def, checked->answers);
  json response = {{"answers", checked->answers},
                   {"language", str(data, "language", str(detail, "language"))},
                   {"submission_id", str(data, "submission_id")}};
  if (!comment.empty()) {
    response["comment"] = comment;
    event c;
    c.type = event_type::ticket_commented;
    c.tenant = ev.tenant;
    c.host = ev.host;
    c.ticket_id = ev.ticket_id;
    c.text = comment;
    c.visibility = "public";
    const classification cl = clf.classify(c);
    response["sentiment"] = cl.sentiment;
    response["category"] = cl.category;
    body += "\n\"" + comment + "\"\n(comment: sentiment " + cl.sentiment + ", category " + cl.category + ")";
  }
  const auto& esc = sp.escalation;
  d.next.survey_detail["escalated"] = flag(detail, "escalated");
  if (negative && esc.enabled && !flag(detail, "escalated")) {
    json params = {{"reason", "negative " + def->id + " answer " + std::to_string(*score) + "/" + std::to_string(sq->max)}};
    if (!esc.owner.empty()) params["owner"] = esc.owner;
    if (!esc.group.empty()) params["group"] = esc.group;
    body += "\nReopened for follow-up";
    if (!esc.owner.empty()) body += " by " + esc.owner;
    if (!esc.group.empty()) body += " in " + esc.group;
    body += ": a bad answer is a customer to win back.";
    d.actions.push_back(make_action(ev, action_type::add_internal_note, key_for(ev, "note"), {{"body", body}}, false));
    d.actions.push_back(make_action(ev, action_type::reopen, key_for(ev, "reopen"), std::move(params), false));
    d.actions.push_back(timer_action(ev, ticket_key(ev, "survey/recovery/" + std::to_string(seq)), "survey_recovery",
                                     def->id, ev.occurred_at + duration_cast<milliseconds>(sp.recovery), seq));
    d.next.status = "open";
    d.next.survey_detail["escalated"] = true;
    d.log.push_back(def->id + " answer " + std::to_string(*score) + " is negative: ticket reopened for follow-up");
  } else {
    d.actions.push_back(make_action(ev, action_type::add_internal_note, key_for(ev, "note"), {{"body", body}}, false));
    d.log.push_back(def->id + " answer " + (score ? std::to_string(*score) : std::string("(no score)")) +
                    (edit ? " updated" : " recorded"));
  }
  // A happy customer may be asked for a public review, once per ticket.
  const int review_at = sp.review_min_score.value_or(sq ? (def->kind == "nps" ? 9 : sq->max) : 0);
  if (score && !negative && !sp.review_url.empty() && *score >= review_at && !flag(detail, "review_asked")) {
    const std::string lang = survey::normalize_language(str(response, "language", "en"));
    d.actions.push_back(make_action(ev, action_type::post_public_reply, ticket_key(ev, "survey/review"),
                                    {{"body", std::string(review_text(lang)) + " " + sp.review_url}}, false));
    d.next.survey_detail["review_asked"] = true;
    d.log.push_back("review requested");
  }

  // Cross-ticket: the person's latest answer, and whether an earlier negative one was won back.
  const std::string person = person_of(sp, state);
  survey::ledger_update lw;
  lw.person_key = person;
  lw.answer = {{"host", ev.host}, {"ticket", ev.ticket_id}, {"seq", seq}, {"score", score ? json(*score) : json()},
               {"negative", negative}, {"at", format_rfc3339(ev.occurred_at)}};
  if (ledger && !person.empty()) {
    const json last = ledger->person(ev.tenant, person).last_answer;
    if (last.is_object() && flag(last, "negative") &&
        !(str(last, "host") == ev.host && str(last, "ticket") == ev.ticket_id) && score) {
      const std::string outcome = negative ? "not_won_back" : "won_back";
      lw.recovery = {{"host", last["host"]}, {"ticket", last["ticket"]}, {"seq", last.value("seq", 0)},
                     {"outcome", outcome}};
      response["follows_negative"] = {{"host", last["host"]}, {"ticket", last["ticket"]}, {"outcome", outcome}};
      d.log.push_back("recovery outcome for ticket " + str(last, "ticket") + ": " + outcome);
    }
  }
  if (!person.empty()) d.ledger_writes = std::move(lw);

  // State and the lifecycle row: one answer per survey, an edit replaces it.
  const int edits = integer(detail, "edits", 0) + (edit ? 1 : 0);
  response["edits"] = edits;

  // Other systems hear of the answer through the tenant's outbound webhooks: one delivery per
  // accepted submission (keyed by this event, so a redelivered answer is not sent twice; an edit
  // is a new submission with edit = true).
  for (const auto& hook : pol.webhooks) {
    if (!hook.wants("survey.answered")) continue;
    json payload = {{"tenant", ev.tenant},
                    {"host", ev.host},
                    {"ticket_id", ev.ticket_id},
                    {"survey", def->id},
                    {"kind", def->kind},
                    {"score", score ? json(*score) : json()},
                    {"negative", negative},
                    {"answers", checked->answers},
                    {"language", response["language"]},
                    {"answered_at", format_rfc3339(ev.occurred_at)},
                    {"edit", edit},
                    {"edits", edits},
                    {"submission_id", str(data, "submission_id")},
                    {"escalated", d.next.survey_detail.value("escalated", false)}};
    if (sq) payload["scale"] = {{"min", sq->min}, {"max", sq->max}};
    if (!comment.empty()) {
      payload["comment"] = comment;
      payload["comment_sentiment"] = response["sentiment"];
      payload["comment_category"] = response["category"];
    }
    if (!state.category.empty()) payload["ticket_category"] = state.category;
    if (response.contains("follows_negative")) payload["recovery"] = response["follows_negative"];
    if (hook.include_customer && (!state.requester_email.empty() || !state.requester_name.empty()))
      payload["customer"] = {{"email", state.requester_email}, {"name", state.requester_name}};
    d.actions.push_back(make_action(ev, action_type::post_webhook, key_for(ev, "webhook/" + hook.id),
                                    {{"webhook", hook.id}, {"event", "survey.answered"}, {"payload", std::move(payload)}},
                                    false));
    d.log.push_back("answer sent to webhook " + hook.id);
  }
  d.next.survey = "answered";
  d.next.survey_score = score ? json(*score) : json();
  auto& nd = d.next.survey_detail;
  if (!edit) nd["answered_at"] = format_rfc3339(ev.occurred_at);
  nd["answers"] = checked->answers;
  nd["score"] = d.next.survey_score;
  nd["edits"] = edits;
  nd["submission_id"] = str(data, "submission_id");
  survey::record row = row_of(state);
  row.definition = def->id;
  row.kind = def->kind;
  row.status = "answered";
  if (!edit) row.answered_at = ev.occurred_at;
  row.score = score;
  row.response = std::move(response);
  if (negative && esc.enabled && !flag(detail, "escalated")) row.recovery = "pending";
  d.survey_row = std::move(row);
}

}  // namespace closeloop::survey_engine
