// `closeloop train --task T --input FILE --out MODEL`
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli/learn.hpp"

namespace closeloop::cli {

bool task_is_trainable(const std::string& task) {
  // Sentiment and urgency are trained the same way as category (fastText + a hashed linear model
  // over the file's labels; sentiment adds negation marks and the lexicon's verdict as features).
  return task == "category" || task == "sentiment" || task == "urgency";
}

std::string model_file_name(const std::string& task) { return task + ".model"; }

result<dataset> load_dataset(const std::string& path, const std::string& task, const data_flags& f) {
  dataset_options opt = dataset_options_for_task(task);
  if (!f.text_column.empty()) opt.text_columns = {f.text_column};
  if (!f.label_column.empty()) opt.label_columns = {f.label_column};
  opt.max_rows = f.max_rows;
  return read_dataset(path, opt);
}

category_train_options train_options_for(const std::string& task, int members, int threads, bool quantize, bool quiet) {
  category_train_options opt;
  // Sentiment models see negation marks and the lexicon's verdict next to the words.
  if (task == "sentiment") opt.features = text_features::sentiment;
  // --members N: N fastText members next to the hashed linear model. Members beyond the default
  // one vary their n-grams so they err differently: words + bigrams only; words + char 2..4-grams.
  if (members > 0 && !opt.members.empty()) {
    const auto base = opt.members.front();
    while (opt.members.size() < static_cast<std::size_t>(members)) {
      auto m = base;
      m.seed = static_cast<int>(opt.members.size()) + 1;
      if (opt.members.size() % 2 == 1) {
        m.minn = m.maxn = 0;
      } else {
        m.word_ngrams = 1;
        m.minn = 2;
        m.maxn = 4;
      }
      opt.members.push_back(m);
    }
    opt.members.resize(static_cast<std::size_t>(members));
  }
  opt.threads = threads;
  opt.quantize = quantize;
  if (!quiet)
    opt.progress = [](std::string_view stage, std::size_t done, std::size_t total) {
      std::fprintf(stderr, "closeloop: %.*s %zu/%zu\n", static_cast<int>(stage.size()), stage.data(), done, total);
    };
  return opt;
}

int run_train(const train_options& o) {
  if (!task_is_trainable(o.task)) {
    std::cerr << "closeloop train: unknown task \"" << o.task << "\" (category, sentiment, urgency)\n";
    return 2;
  }
  auto data = load_dataset(o.input, o.task, o.data);
  if (!data) {
    std::cerr << "closeloop train: " << data.err().message << "\n";
    return 1;
  }
  if (!o.quiet)
    std::cerr << "closeloop: " << data->rows.size() << " examples from " << o.input << " (" << data->format
              << ", text column " << data->text_column << ", label column " << data->label_column << ")\n";
  const auto t0 = std::chrono::steady_clock::now();
  auto model = category_model::train(data->rows, train_options_for(o.task, o.members, o.threads, !o.no_quantize, o.quiet));
  if (!model) {
    std::cerr << "closeloop train: " << model.err().message << "\n";
    return 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!o.calibrate.empty()) {
    auto cal = load_dataset(o.calibrate, o.task, o.data);
    if (!cal) {
      std::cerr << "closeloop train: " << cal.err().message << "\n";
      return 1;
    }
    auto rc = model->calibrate_reject(cal->rows);
    if (rc.n_oos == 0)
      std::cerr << "closeloop train: " << o.calibrate << " has no \"" << model->reject_label()
                << "\" examples; the reject threshold stays as calibrated on the hold-out\n";
    else if (!o.quiet)
      std::fprintf(stderr, "closeloop: reject threshold %.2f on %s: in-scope accuracy %.4f, %s recall %.4f\n",
                   rc.threshold, o.calibrate.c_str(), rc.in_scope_accuracy, model->reject_label().c_str(),
                   rc.oos_recall);
  }
  if (auto r = model->save(o.out); !r) {
    std::cerr << "closeloop train: " << r.err().message << "\n";
    return 1;
  }
  const auto& g = model->gate();
  const auto& t = model->thresholds();
  std::printf("trained %s model %s: %zu examples, %zu labels, %zu members, %zu bytes, %.1f s\n", o.task.c_str(),
              o.out.c_str(), data->rows.size(), model->labels().size(), model->members(), model->serialized_bytes(), secs);
  std::printf("thresholds: high >= %.3f, medium >= %.3f, \"%s\" below %.3f\n", t.high, t.medium,
              model->reject_label().c_str(), t.reject);
  std::printf("gate (hold-out of %zu): accuracy %.4f, high %.1f %%, medium or better %.1f %% -> %s\n", g.n, g.accuracy,
              100 * g.high_share, 100 * g.medium_or_better,
              g.active ? "active (predictions are written)" : "suggest only (below 30 % high / 60 % medium)");
  return 0;
}

}  // namespace closeloop::cli
