// `closeloop eval --task T --train FILE --test FILE [--json]`: train on one file (or load
// --model), predict the other, print accuracy, macro F1 and per-label figures (and, when the test
// set has the reject label, e.g. CLINC150's `oos`, in-scope accuracy and oos recall).
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/learn.hpp"

namespace closeloop::cli {
namespace {

using nlohmann::json;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

struct counts {
  std::size_t tp = 0, fp = 0, fn = 0, support = 0;
};

// Accuracy, macro F1 and per-label figures of (gold, predicted) pairs.
json score(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::map<std::string, counts> c;
  std::size_t right = 0;
  for (const auto& [g, p] : pairs) {
    c[g].support++;
    if (g == p) {
      ++right;
      c[g].tp++;
    } else {
      c[g].fn++;
      c[p].fp++;
    }
  }
  json labels = json::object();
  double f1_sum = 0;
  std::size_t n_labels = 0;
  for (const auto& [l, k] : c) {
    double prec = k.tp + k.fp ? static_cast<double>(k.tp) / static_cast<double>(k.tp + k.fp) : 0;
    double rec = k.support ? static_cast<double>(k.tp) / static_cast<double>(k.support) : 0;
    double f1 = prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
    if (k.support == 0) continue;  // predicted but absent from the test set: not averaged
    labels[l] = {{"precision", prec}, {"recall", rec}, {"f1", f1}, {"support", k.support}};
    f1_sum += f1;
    ++n_labels;
  }
  return {{"n", pairs.size()},
          {"accuracy", pairs.empty() ? 0.0 : static_cast<double>(right) / static_cast<double>(pairs.size())},
          {"macro_f1", n_labels ? f1_sum / static_cast<double>(n_labels) : 0.0},
          {"labels", labels}};
}

}  // namespace

int run_eval(const eval_options& o) {
  if (!task_is_trainable(o.task)) {
    std::cerr << "closeloop eval: unknown task \"" << o.task << "\" (category, sentiment, urgency)\n";
    return 2;
  }
  if (o.train.empty() == o.model.empty()) {
    std::cerr << "closeloop eval: give either --train FILE or --model FILE\n";
    return 2;
  }
  auto test = load_dataset(o.test, o.task, o.data);
  if (!test) {
    std::cerr << "closeloop eval: " << test.err().message << "\n";
    return 1;
  }
  json out;
  out["task"] = o.task;
  out["test_file"] = o.test;
  auto t0 = clock_type::now();
  result<category_model> model = make_error(errc::internal, "no model");
  if (!o.train.empty()) {
    auto train = load_dataset(o.train, o.task, o.data);
    if (!train) {
      std::cerr << "closeloop eval: " << train.err().message << "\n";
      return 1;
    }
    out["train_file"] = o.train;
    out["train_n"] = train->rows.size();
    if (!o.quiet) std::cerr << "closeloop: training on " << train->rows.size() << " examples from " << o.train << "\n";
    t0 = clock_type::now();
    model = category_model::train(train->rows, train_options_for(o.task, o.members, o.threads, !o.no_quantize, o.quiet));
    out["train_seconds"] = seconds_since(t0);
  } else {
    model = category_model::load(o.model);
    out["model_file"] = o.model;
  }
  if (!model) {
    std::cerr << "closeloop eval: " << model.err().message << "\n";
    return 1;
  }
  if (!o.calibrate.empty()) {
    auto cal = load_dataset(o.calibrate, o.task, o.data);
    if (!cal) {
      std::cerr << "closeloop eval: " << cal.err().message << "\n";
      return 1;
    }
    auto rc = model->calibrate_reject(cal->rows);
    out["calibration"] = {{"file", o.calibrate},         {"threshold", rc.threshold},
                          {"in_scope_accuracy", rc.in_scope_accuracy}, {"oos_recall", rc.oos_recall},
                          {"n_in_scope", rc.n_in_scope}, {"n_oos", rc.n_oos}};
  }
  if (!o.save_model.empty())
    if (auto r = model->save(o.save_model); !r) {
      std::cerr << "closeloop eval: " << r.err().message << "\n";
      return 1;
    }

  const std::string& reject = model->reject_label();
  bool has_reject = false;
  for (const auto& r : test->rows) has_reject = has_reject || r.label == reject;

  // Closed-set answers (top label) and answers with the reject option.
  std::vector<std::pair<std::string, std::string>> top, with_reject;
  std::size_t in_n = 0, in_ok = 0, oos_n = 0, oos_ok = 0, rejected = 0;
  std::size_t bands[3] = {0, 0, 0}, band_ok[3] = {0, 0, 0};
  t0 = clock_type::now();
  for (std::size_t i = 0; i < test->rows.size(); ++i) {
    const auto& r = test->rows[i];
    auto p = model->predict(r.text);
    top.emplace_back(r.label, p.top_label);
    with_reject.emplace_back(r.label, p.label);
    rejected += p.label == reject ? 1 : 0;
    auto b = static_cast<std::size_t>(p.band);
    bands[b]++;
    band_ok[b] += p.top_label == r.label ? 1 : 0;
    if (r.label == reject) {
      ++oos_n;
      oos_ok += p.label == reject ? 1 : 0;
    } else {
      ++in_n;
      in_ok += p.label == r.label ? 1 : 0;
    }
    if (!o.quiet && (i + 1) % 20000 == 0) std::cerr << "closeloop: predicted " << (i + 1) << "/" << test->rows.size() << "\n";
  }
  const double predict_secs = seconds_since(t0);

  // With a reject label in the test set, rejection is part of the answer; without one every
  // example is in scope and the closed-set (top label) answer is the measure.
  json s = score(has_reject ? with_reject : top);
  for (auto& [k, v] : s.items()) out[k] = v;
  json alt = score(has_reject ? top : with_reject);
  out[has_reject ? "accuracy_top_label" : "accuracy_with_reject"] = alt["accuracy"];
  out["reject_label"] = reject;
  out["reject_rate"] = test->rows.empty() ? 0.0 : static_cast<double>(rejected) / static_cast<double>(test->rows.size());
  if (has_reject) {
    out["in_scope_accuracy"] = in_n ? static_cast<double>(in_ok) / static_cast<double>(in_n) : 0.0;
    out["oos_recall"] = oos_n ? static_cast<double>(oos_ok) / static_cast<double>(oos_n) : 0.0;
    out["n_in_scope"] = in_n;
    out["n_oos"] = oos_n;
  }
  json bj = json::object();
  const char* names[3] = {"low", "medium", "high"};
  for (int b = 0; b < 3; ++b)
    bj[names[b]] = {{"share", test->rows.empty() ? 0.0 : static_cast<double>(bands[b]) / static_cast<double>(test->rows.size())},
                    {"accuracy", bands[b] ? static_cast<double>(band_ok[b]) / static_cast<double>(bands[b]) : 0.0}};
  out["bands"] = bj;
  const auto& t = model->thresholds();
  out["thresholds"] = {{"high", t.high}, {"medium", t.medium}, {"reject", t.reject}};
  const auto& g = model->gate();
  out["gate"] = {{"n", g.n}, {"accuracy", g.accuracy}, {"high_share", g.high_share},
                 {"medium_or_better", g.medium_or_better}, {"active", g.active}};
  out["model_bytes"] = model->serialized_bytes();
  out["members"] = model->members();
  out["predict_seconds"] = predict_secs;
  out["predict_per_second"] = predict_secs > 0 ? static_cast<double>(test->rows.size()) / predict_secs : 0.0;

  if (o.json) {
    std::cout << out.dump() << "\n";
    return 0;
  }
  std::printf("%s: n %zu, accuracy %.4f, macro F1 %.4f\n", o.task.c_str(), test->rows.size(),
              out["accuracy"].get<double>(), out["macro_f1"].get<double>());
  if (has_reject)
    std::printf("in-scope accuracy %.4f, %s recall %.4f (reject below %.2f)\n", out["in_scope_accuracy"].get<double>(),
                reject.c_str(), out["oos_recall"].get<double>(), t.reject);
  std::printf("bands: high %.1f %% (acc %.3f), medium %.1f %% (acc %.3f), low %.1f %% (acc %.3f)\n",
              100 * bj["high"]["share"].get<double>(), bj["high"]["accuracy"].get<double>(),
              100 * bj["medium"]["share"].get<double>(), bj["medium"]["accuracy"].get<double>(),
              100 * bj["low"]["share"].get<double>(), bj["low"]["accuracy"].get<double>());
  if (out.contains("train_seconds")) std::printf("training %.1f s, ", out["train_seconds"].get<double>());
  std::printf("prediction %.0f texts/s, model %zu bytes, gate %s\n", out["predict_per_second"].get<double>(),
              out["model_bytes"].get<std::size_t>(), g.active ? "active" : "suggest only");
  return 0;
}

}  // namespace closeloop::cli
