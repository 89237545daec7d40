/*
 * console.h — the web console (/ui/): static pages compiled into the
 * binary (ui/ in the source tree, embedded at build time), sign-in with the
 * admin token for a session cookie, and the check the management API makes
 * when a request comes with that cookie instead of a Bearer token.
 *
 * A session is a random 256-bit id in an HttpOnly, SameSite=Strict cookie
 * (Secure under TLS), kept server-side in a fixed table (HG_CONSOLE_MAX_SESSIONS;
 * the least recently used one makes room) as its SHA-256 only, with a CSRF
 * token that every state-changing request must echo in X-CSRF-Token. It
 * ends after HG_CONSOLE_IDLE_MS without use, HG_CONSOLE_LIFETIME_MS after
 * sign-in, at sign-out, and with the process.
 *
 * The console is off (every /ui/ path 404, the cookie accepted nowhere)
 * with `console: off` or when no admin token is configured.
 *
 * Thread-safe: the handler and hg_console_check() run on every event loop.
 */
#ifndef HG_CONSOLE_H
#define HG_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

struct hg_config;
struct hg_http_req;
struct hg_ingest;
struct hg_console;

#define HG_CONSOLE_MAX_SESSIONS 64
#define HG_CONSOLE_IDLE_MS      (60 * 60 * 1000LL)      /* 1 h without a request */
#define HG_CONSOLE_LIFETIME_MS  (12 * 60 * 60 * 1000LL) /* 12 h after sign-in at most */
#define HG_CONSOLE_COOKIE       "hg_session"
#define HG_CONSOLE_CSRF_HEADER  "x-csrf-token"

/* cfg: the startup config (its admin token and `console`); ingest: where
 * failed sign-ins are audit-logged (may be NULL). The token's digest is
 * copied; cfg need not outlive the console. */
int hg_console_new(const struct hg_config *cfg, struct hg_ingest *ingest, struct hg_console **out);
void hg_console_free(struct hg_console *c);
/* 1 when the console is served. */
int hg_console_enabled(const struct hg_console *c);

/* Route "/ui" and "/ui/" to this (arg: the struct hg_console). */
void hg_console_handle(struct hg_http_req *req, void *arg);

/* What a request's session cookie says. */
enum hg_console_auth {
	HG_CONSOLE_NONE = 0, /* no session cookie (or the console is off) */
	HG_CONSOLE_OK,       /* a live session, and for a state-changing method
			      * (anything but GET and HEAD) the right CSRF token */
	HG_CONSOLE_EXPIRED,  /* a cookie naming no live session */
	HG_CONSOLE_CSRF,     /* a live session, but X-CSRF-Token is missing or wrong */
};
/* Checks req's cookie (and CSRF token) and, when live, marks the session
 * used. c may be NULL (HG_CONSOLE_NONE). */
enum hg_console_auth hg_console_check(struct hg_console *c, const struct hg_http_req *req);

/* ---- the session table (session.c; pure, unit-tested) ---- */
#define HG_CONSOLE_ID_LEN   64 /* 32 random bytes in hex */
#define HG_CONSOLE_CSRF_LEN 64

struct hg_console_sessions;
int hg_console_sessions_new(size_t cap, struct hg_console_sessions **out);
void hg_console_sessions_free(struct hg_console_sessions *t);
/* A new session at now_ms: its id (for the cookie) and CSRF token, each
 * NUL-terminated. When the table is full the least recently used session
 * goes. HG_OK or HG_EIO (no randomness). */
int hg_console_sessions_create(struct hg_console_sessions *t, int64_t now_ms,
			       char id[HG_CONSOLE_ID_LEN + 1], char csrf[HG_CONSOLE_CSRF_LEN + 1]);
/* Looks id[0, len) up at now_ms: HG_OK (marked used; csrf, when not NULL,
 * gets its token and *expires_ms when it ends unless used again) or
 * HG_ENOTFOUND (unknown, or expired and then removed). */
int hg_console_sessions_touch(struct hg_console_sessions *t, const char *id, size_t len,
			      int64_t now_ms, char csrf[HG_CONSOLE_CSRF_LEN + 1],
			      int64_t *expires_ms);
/* Removes the session id names; HG_OK or HG_ENOTFOUND. */
int hg_console_sessions_remove(struct hg_console_sessions *t, const char *id, size_t len);
/* Live sessions at now_ms. */
size_t hg_console_sessions_count(struct hg_console_sessions *t, int64_t now_ms);

/* ---- the failed sign-in throttle (throttle.c; pure, unit-tested) ----
 * Failed sign-ins are counted per client address and for the whole
 * daemon, each in its own minute. An address past its limit gets 429
 * until its minute ends; others keep signing in, so one client cannot
 * lock the console out. The daemon-wide limit bounds how fast many
 * addresses together can guess. Addresses share HG_CONSOLE_THROTTLE_SLOTS
 * counters through a hash with a random key, so a client spraying
 * addresses cannot aim at someone else's counter. */
#define HG_CONSOLE_FAILURES_PER_ADDR 10
#define HG_CONSOLE_FAILURES_ALL      300
#define HG_CONSOLE_FAILURE_WINDOW_MS (60 * 1000LL)
#define HG_CONSOLE_THROTTLE_SLOTS    1024

struct hg_console_throttle;
/* HG_OK, HG_ENOMEM or HG_EIO (no randomness for the hash key). */
int hg_console_throttle_new(struct hg_console_throttle **out);
void hg_console_throttle_free(struct hg_console_throttle *t);
/* 1 when addr may try a sign-in at now_ms; 0 otherwise, with *retry_s the
 * seconds until the minute that blocks it ends. */
int hg_console_throttle_allowed(struct hg_console_throttle *t, const char *addr, int64_t now_ms,
				int64_t *retry_s);
/* Counts one failed sign-in of addr at now_ms. */
void hg_console_throttle_failed(struct hg_console_throttle *t, const char *addr, int64_t now_ms);

#endif
