/* A plain C host: loads libcloseloop.so with dlopen() and drives it through the C ABI,
 * created -> solved -> reopened, plus a redelivery and the error paths. Exit code 0 = pass. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../plugin/include/closeloop/closeloop.h"

typedef int (*abi_version_fn)(void);
typedef const char* (*version_fn)(void);
typedef closeloop_status (*open_fn)(int, const char*, closeloop_handle**, char**);
typedef closeloop_status (*on_event_fn)(closeloop_handle*, const char*, char**, char**);
typedef void (*free_fn)(char*);
typedef void (*close_fn)(closeloop_handle*);

static int failures = 0;
#define CHECK(cond, ...)                                 \
  do {                                                   \
    if (!(cond)) {                                       \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                      \
      fputc('\n', stderr);                               \
      ++failures;                                        \
    }                                                    \
  } while (0)

static on_event_fn on_event;
static free_fn cl_free;

static char* send(closeloop_handle* h, const char* type, const char* id, const char* extra, closeloop_status want) {
  char ev[2048];
  snprintf(ev, sizeof ev,
           "{\"type\":\"%s\",\"tenant\":\"acme\",\"host\":\"generic\",\"ticket_id\":\"7\","
           "\"host_event_id\":\"%s\",\"occurred_at\":\"2026-11-20T10:00:00Z\","
           "\"requester\":{\"email\":\"ann@example.com\",\"role\":\"customer\"}%s}",
           type, id, extra);
  char* out = NULL;
  char* err = NULL;
  closeloop_status s = on_event(h, ev, &out, &err);
  CHECK(s == want, "%s/%s: status %d, want %d (%s)", type, id, s, want, err ? err : "");
  if (err) cl_free(err);
  return out;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: capi_driver /path/to/libcloseloop.so\n");
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  abi_version_fn abi = (abi_version_fn)dlsym(lib, "closeloop_abi_version");
  version_fn version = (version_fn)dlsym(lib, "closeloop_version");
  open_fn cl_open = (open_fn)dlsym(lib, "closeloop_open");
  on_event = (on_event_fn)dlsym(lib, "closeloop_on_event");
  cl_free = (free_fn)dlsym(lib, "closeloop_free");
  close_fn cl_close = (close_fn)dlsym(lib, "closeloop_close");
  if (!abi || !version || !cl_open || !on_event || !cl_free || !cl_close) {
    fprintf(stderr, "missing symbol: %s\n", dlerror());
    return 1;
  }
  /* Only the C ABI is exported. */
  CHECK(dlsym(lib, "_ZN9closeloop11parse_eventESt17basic_string_viewIcSt11char_traitsIcEE") == NULL,
        "C++ symbols leak from libcloseloop.so");
  CHECK(abi() == CLOSELOOP_ABI_VERSION, "abi %d", abi());
  CHECK(version() && strlen(version()) > 0, "empty version");

  char dir[] = "/tmp/closeloop-capi-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char config[1024];
  snprintf(config, sizeof config,
           "{\"store\":{\"path\":\"%s/capi.db\"},\"tenants\":[{\"id\":\"acme\","
           "\"categories\":{\"outage\":[\"down\",\"outage\"]},"
           "\"policy\":{\"survey\":{\"delay_s\":3600}},"
           "\"hosts\":[{\"id\":\"generic\",\"vendor\":\"generic\","
           "\"webhook_secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}]}]}",
           dir);

  closeloop_handle* h = NULL;
  char* err = NULL;
  /* Error paths: wrong ABI, bad config, NULL arguments. */
  CHECK(cl_open(999, config, &h, &err) == CLOSELOOP_E_ABI_MISMATCH, "abi mismatch not detected");
  cl_free(err);
  err = NULL;
  char bad_config[1100];
  snprintf(bad_config, sizeof bad_config, "{\"bogus\":1,%s", config + 1);
  CHECK(cl_open(CLOSELOOP_ABI_VERSION, bad_config, &h, &err) == CLOSELOOP_E_CONFIG, "bad config accepted");
  CHECK(err && strstr(err, "bogus"), "config error does not name the key: %s", err ? err : "(null)");
  cl_free(err);
  err = NULL;
  CHECK(cl_open(CLOSELOOP_ABI_VERSION, NULL, &h, &err) == CLOSELOOP_E_INVALID_ARGUMENT, "NULL config accepted");
  cl_free(err);
  err = NULL;

  closeloop_status s = cl_open(CLOSELOOP_ABI_VERSION, config, &h, &err);
  if (s != CLOSELOOP_OK) {
    fprintf(stderr, "open failed: %s\n", err ? err : "");
    return 1;
  }

  char* out = send(h, "ticket.created", "tx-1", ",\"subject\":\"Service down\",\"text\":\"Our site is down, outage for all users\"",
                   CLOSELOOP_OK);
  CHECK(out && strstr(out, "\"type\":\"set_priority\""), "created: no set_priority: %s", out ? out : "");
  CHECK(out && strstr(out, "\"priority\":\"critical\""), "created: priority not critical: %s", out ? out : "");
  CHECK(out && strstr(out, "\"type\":\"set_fields\""), "created: no set_fields");
  CHECK(out && strstr(out, "\"category\":\"outage\""), "created: category not outage");
  CHECK(out && strstr(out, "\"type\":\"add_internal_note\""), "created: no note");
  CHECK(out && strstr(out, "\"immediate\":true"), "created: actions not immediate");
  CHECK(out && strstr(out, "\"duplicate\":false"), "created: reported duplicate");
  cl_free(out);

  /* Redelivery: recognised, nothing decided again, and the host gets the immediate actions it was
     to apply once more (its first answer may not have reached it). */
  out = send(h, "ticket.created", "tx-1", ",\"text\":\"again\"", CLOSELOOP_OK);
  CHECK(out && strstr(out, "\"duplicate\":true"), "redelivery not recognised: %s", out ? out : "");
  CHECK(out && strstr(out, "\"type\":\"set_priority\"") && strstr(out, "\"priority\":\"critical\""),
        "redelivery: the immediate actions are not repeated: %s", out ? out : "");
  cl_free(out);

  out = send(h, "ticket.solved", "tx-2", "", CLOSELOOP_OK);
  CHECK(out && strstr(out, "\"type\":\"schedule_survey\""), "solved: no schedule_survey: %s", out ? out : "");
  CHECK(out && strstr(out, "\"due_at\":\"2026-11-20T11:00:00.000Z\""), "solved: wrong due time: %s", out ? out : "");
  cl_free(out);

  out = send(h, "ticket.reopened", "tx-3", "", CLOSELOOP_OK);
  CHECK(out && strstr(out, "\"type\":\"cancel_survey\""), "reopened: no cancel_survey: %s", out ? out : "");
  cl_free(out);

  /* Bad events: a clear error, never a crash. */
  out = send(h, "ticket.exploded", "tx-4", "", CLOSELOOP_E_INVALID_ARGUMENT);
  CHECK(out == NULL, "output on error");
  char* e2 = NULL;
  CHECK(on_event(h, "{not json", &out, &e2) == CLOSELOOP_E_INVALID_ARGUMENT, "malformed JSON accepted");
  CHECK(e2 != NULL, "no error message for malformed JSON");
  cl_free(e2);
  /* What goes back to the host (and into its log) is PII-scrubbed: an unknown tenant that is an
     e-mail address is named as [email]. */
  e2 = NULL;
  CHECK(on_event(h,
                 "{\"type\":\"ticket.created\",\"tenant\":\"ann.lee@example.com\",\"host\":\"generic\","
                 "\"ticket_id\":\"8\",\"host_event_id\":\"tx-9\",\"occurred_at\":\"2026-11-20T10:00:00Z\"}",
                 &out, &e2) == CLOSELOOP_E_INVALID_ARGUMENT,
        "unknown tenant accepted");
  CHECK(e2 && strstr(e2, "is not configured") && !strstr(e2, "ann.lee@example.com") && strstr(e2, "[email]"),
        "error not scrubbed: %s", e2 ? e2 : "(null)");
  cl_free(e2);
  CHECK(on_event(NULL, "{}", &out, NULL) == CLOSELOOP_E_INVALID_ARGUMENT, "NULL handle accepted");
  CHECK(on_event(h, NULL, &out, NULL) == CLOSELOOP_E_INVALID_ARGUMENT, "NULL event accepted");

  cl_close(h);
  cl_close(NULL);
  cl_free(NULL);
  dlclose(lib);

  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("C ABI: all checks passed\n");
  return 0;
}
