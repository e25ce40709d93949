#pragma once
// `closeloop train`, `closeloop eval`, `closeloop classify`: the learning side of the command.
// Their flags and output are a stable interface (other tools and checks depend on them).
#include <cstddef>
#include <string>

#include "closeloop/category_model.hpp"
#include "closeloop/dataset.hpp"

namespace closeloop::cli {

struct data_flags {
  std::string text_column, label_column;  // override the header/key aliases
  std::size_t max_rows = 0;               // 0: all
};

struct train_options {
  std::string task = "category", input, out, calibrate;
  data_flags data;
  int members = 0;  // fastText members; 0: the default (1, plus the hashed linear model)
  int threads = 2;
  bool no_quantize = false, quiet = false;
};
struct eval_options {
  std::string task = "category", train, test, model, calibrate, save_model;
  data_flags data;
  int members = 0, threads = 2;
  bool json = false, quiet = false, no_quantize = false;
};
struct classify_options {
  std::string model_dir, task = "all";
};

int run_train(const train_options& o);
int run_eval(const eval_options& o);
int run_classify(const classify_options& o);

// Shared by train and eval.
bool task_is_trainable(const std::string& task);
result<dataset> load_dataset(const std::string& path, const std::string& task, const data_flags& f);
category_train_options train_options_for(const std::string& task, int members, int threads, bool quantize, bool quiet);
// The file name of a task's model inside a --model-dir.
std::string model_file_name(const std::string& task);

}  // namespace closeloop::cli
