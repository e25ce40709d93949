#pragma once
// Learning data from closeloop's own store: what a tenant's agents and customers taught it.
// - category: each ticket's text (subject + the customer's first message, PII scrubbed) with the
//   category an agent corrected it to (source "agent"), or, unless corrected_only, the category
//   closeloop wrote on a ticket that was then solved without correction (source "confirmed").
// - sentiment: each survey answer with a comment, labelled by its score (csat 4-5 / nps 9-10 /
//   ces 6-7 positive, csat 1-2 / nps 0-6 / ces 1-3 negative, the rest neutral).
// The result is what `closeloop train --input` reads (JSON lines with text and label).
#include <string>
#include <vector>

#include "closeloop/store.hpp"

namespace closeloop::server {

struct learned_example {
  std::string text, label, source, ticket;  // ticket: "<host>/<id>"
};

struct export_options {
  std::string tenant;
  std::string task = "category";  // category | sentiment
  bool corrected_only = false;
};

result<std::vector<learned_example>> export_learning_data(store& db, const export_options& o);

}  // namespace closeloop::server
