#pragma once
// The knowledge loop's decisions inside engine::decide (kb_decide.cpp). Internal to the engine.
#include "closeloop/engine.hpp"

namespace closeloop::kb_decide {

// ticket.created / ticket.commented / ticket.solved: keep the message (scrubbed, bounded) in
// state.kb.messages so the draft can be written later from state alone.
void record(const policy& pol, const event& ev, decision& d);
// ticket.created: ask the worker for the top articles (suggest_kb_articles).
void on_created(const policy& pol, const event& ev, decision& d);
// ticket.solved: candidate checks, then a draft now, after the reopen window, or after a good survey.
void on_solved(const policy& pol, const event& ev, decision& d);
// ticket.reopened: a pending draft is called off.
void on_reopened(const event& ev, decision& d);
// survey.answered: a draft waiting for a good answer is released (or dropped).
void on_answer(const policy& pol, const event& ev, decision& d);

}  // namespace closeloop::kb_decide
