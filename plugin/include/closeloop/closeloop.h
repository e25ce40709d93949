/* closeloop C ABI, version 1.
 *
 * A host that runs native extensions (Request Tracker through FFI::Platypus, ...) loads
 * libcloseloop.so and calls closeloop_on_event() for each ticket lifecycle event. The call
 * returns the actions to apply at once (priority, fields, internal note) and records deferred
 * ones (surveys, KB articles) in closeloop's store for `closeloop serve` to execute.
 *
 * Rules: every function is safe to call with NULL arguments (it returns an error code); no C++
 * exception crosses this boundary; strings are UTF-8, NUL-terminated; strings returned through
 * out-parameters are owned by the caller and released with closeloop_free(). A handle may be used
 * from several threads at once.
 */
#ifndef CLOSELOOP_CLOSELOOP_H
#define CLOSELOOP_CLOSELOOP_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CLOSELOOP_BUILDING_LIBRARY)
#define CLOSELOOP_API __attribute__((visibility("default")))
#else
#define CLOSELOOP_API
#endif

#define CLOSELOOP_ABI_VERSION 1

typedef enum closeloop_status {
  CLOSELOOP_OK = 0,
  CLOSELOOP_E_INVALID_ARGUMENT = 1, /* NULL pointer, malformed JSON, unknown event type, ... */
  CLOSELOOP_E_CONFIG = 2,           /* configuration rejected (message names the key) */
  CLOSELOOP_E_STORE = 3,            /* the store could not commit; retryable */
  CLOSELOOP_E_ABI_MISMATCH = 4,     /* caller built against another ABI version */
  CLOSELOOP_E_INTERNAL = 5
} closeloop_status;

typedef struct closeloop_handle closeloop_handle;

/* ABI version of the loaded library (compare with CLOSELOOP_ABI_VERSION). */
CLOSELOOP_API int closeloop_abi_version(void);
/* Library version, e.g. "0.1.0". Static storage; do not free. */
CLOSELOOP_API const char* closeloop_version(void);

/* Open a handle from a JSON configuration (same format as `closeloop serve`'s config file).
 * abi_version: pass CLOSELOOP_ABI_VERSION. On error *error (if error is not NULL) receives a
 * message to be released with closeloop_free(). */
CLOSELOOP_API closeloop_status closeloop_open(int abi_version, const char* config_json,
                                              closeloop_handle** out, char** error);

/* Handle one canonical event (JSON, schemas/event.schema.json). On success *actions_json receives
 * {"duplicate":bool,"actions":[...]} where each action has "immediate": true when the host should
 * apply it now. A redelivered event (same tenant, host, host_event_id) returns duplicate=true and
 * no actions. */
CLOSELOOP_API closeloop_status closeloop_on_event(closeloop_handle* h, const char* event_json,
                                                  char** actions_json, char** error);

/* Handle a host's own payload (the body its webhook/scrip would POST to `closeloop serve`, e.g.
 * the Request Tracker scrip payload of adapters/request_tracker/README.md) for host `host` of
 * tenant `tenant`: the host's adapter translates it into canonical events, each is handled as by
 * closeloop_on_event. *result_json receives
 *   {"duplicate": bool (every event already known), "events": [{"host_event_id", "ticket_id",
 *    "type", "duplicate", "actions": [type names]}], "actions": [action, ...]}
 * where each action is the canonical action (schemas/action.schema.json) plus, for immediate
 * ones, "host": the change in the host's own terms (for RT {"Priority": 50},
 * {"CustomFields": {"Category": "billing"}}, {"Comment": "..."}, {"Queue": "Billing"}).
 * Added in library 0.2.0; the ABI version stays 1 (additive). */
CLOSELOOP_API closeloop_status closeloop_on_host_payload(closeloop_handle* h, const char* tenant, const char* host,
                                                         const char* payload_json, char** result_json, char** error);

/* Release a string returned by this library. NULL is ignored. */
CLOSELOOP_API void closeloop_free(char* s);

/* Close the handle (flushes the store). NULL is ignored. */
CLOSELOOP_API void closeloop_close(closeloop_handle* h);

/* Short, stable name of a status code, e.g. "CLOSELOOP_E_CONFIG". */
CLOSELOOP_API const char* closeloop_status_name(closeloop_status s);

#ifdef __cplusplus
}
#endif
#endif /* CLOSELOOP_CLOSELOOP_H */
