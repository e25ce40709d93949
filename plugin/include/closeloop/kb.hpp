#pragma once
// The knowledge loop's pure parts (plugin/src/kb/): ICU text segmentation, a BM25 index for
// dedupe and suggestion, and extractive drafting of an article from a solved ticket's messages.
// No I/O: the store keeps the articles, the server's worker fetches them through the adapter.
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace closeloop::kb {

// Plain text of an HTML (or plain) body: tags dropped, <br>/<p>/<li>/<div> as line breaks,
// the common entities decoded, quoted reply lines ("> ...") and signatures ("-- ") removed,
// blank runs collapsed.
std::string plain_text(std::string_view body);

// Words for indexing: ICU word segmentation (dictionary-based for Chinese), case-folded, English
// and Chinese stop words dropped, English plurals/-ing/-ed trimmed.
std::vector<std::string> tokens(std::string_view text);

// Sentences (ICU sentence segmentation for the language: "en", "zh-Hans", ...), trimmed, empty
// ones dropped.
std::vector<std::string> sentences(std::string_view text, std::string_view language);

// Okapi BM25 (k1 1.2, b 0.75) over tokens(). similarity() normalises a score to 0..1: the
// query's score against the document divided by its score against itself (the collection
// counted with the query in it), so 1 means "everything the query says, the article says too".
class bm25_index {
 public:
  void add(std::string id, std::string_view text);
  std::size_t size() const noexcept { return docs_.size(); }
  struct hit {
    std::string id;
    double score = 0;       // raw BM25
    double similarity = 0;  // 0..1, see above
  };
  // Best first; at most k hits with similarity >= min_similarity.
  std::vector<hit> search(std::string_view query, std::size_t k, double min_similarity = 0) const;

 private:
  struct doc {
    std::string id;
    std::map<std::string, int, std::less<>> tf;
    std::size_t len = 0;
  };
  std::vector<doc> docs_;
  std::map<std::string, int, std::less<>> df_;
  std::size_t total_len_ = 0;
};

// One message of the ticket, as the engine keeps it in the ticket's state (already scrubbed).
struct message {
  std::string role;  // "customer" or "agent"
  std::string text;
};

struct draft_input {
  std::string subject;
  std::vector<message> messages;  // in order
  std::string resolution;         // the solve event's data.resolution (agent's last reply), may be empty
  std::string language;           // "en", "zh-Hans", "zh-Hant" (empty: en)
  std::vector<std::string> names; // requester's and agents' names, scrubbed from everything
};

struct draft {
  bool ok = false;
  std::string reason;  // why there is no draft (ok == false)
  std::string title;
  std::string problem;
  std::vector<std::string> steps;
  bool numbered = false;      // the agent wrote the steps as a list
  std::string body;           // plain text: problem + numbered steps, in the ticket's language
  std::string body_html;
  std::string summary;        // first step, short
  std::size_t answer_chars = 0;  // characters of agent text the steps came from
};

// Extractive draft: title from the subject (else the problem's first sentence), problem from the
// customer's messages (greetings and thanks dropped), steps from the agent's replies (numbered or
// bulleted lines kept as they are, else instruction sentences). Everything is PII-scrubbed with
// `names`. Never throws on odd input; ok == false with a reason when there is nothing to draft.
draft make_draft(const draft_input& in);

}  // namespace closeloop::kb
