#pragma once
// The survey half of engine::decide (private to closeloop_engine): when a solve schedules a
// survey, when its timer sends it (skip rules, throttle, quotas), reminders, expiry, cancelling
// on reopen or merge, and what an answer does (write-back, classification, escalation with a
// recovery timer, review request, recovery outcome, edit window). Pure: time comes from the
// event or the clock, cross-ticket state from the ledger the store passes in.
#include "closeloop/classifier.hpp"
#include "closeloop/clock.hpp"
#include "closeloop/engine.hpp"

namespace closeloop::survey_engine {

void on_solved(const policy& pol, const event& ev, const ticket_state& state, decision& d);
void on_cancel(const event& ev, const ticket_state& state, const std::string& why, decision& d);
void on_timer(const policy& pol, const event& ev, const ticket_state& state, const clock& clk,
              const survey::ledger* ledger, decision& d);
void on_answer(const policy& pol, const classifier& clf, const event& ev, const ticket_state& state,
               const survey::ledger* ledger, decision& d);
void on_expired(const event& ev, const ticket_state& state, decision& d);
// ticket.updated saying the ticket was merged into another (changes.merged_into, or status -> merged).
bool is_merge(const event& ev);

}  // namespace closeloop::survey_engine
