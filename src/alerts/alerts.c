/*
 * alerts.c — the alert rules' evaluation (alerts.h says what each rule
 * watches and how an alert fires once).
 *
 * Counts over a window shorter than an hour come from snapshots this node
 * takes each round of the current hour's stored counts: the count in the
 * last `per` is what was added since the oldest snapshot not older than
 * that. Right after a start the snapshots cover less than the window, and
 * the count is a lower bound: a rule may fire a little late, never falsely.
 * Hourly rules prorate the previous hour (a sliding hour).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alerts/alerts.h"
#include "config/config.h"
#include "deliver/deliver.h"
#include "events/events.h"
#include "stats/stats.h"
#include "store/store.h"

const char *const hg_alert_rule_names[HG_ALERT_N] = {
    [HG_ALERT_BAD_SIGNATURES] = "bad_signatures",
    [HG_ALERT_RATE_LIMITED] = "rate_limited",
    [HG_ALERT_DEAD] = "dead",
    [HG_ALERT_VOLUME] = "volume",
    [HG_ALERT_DUPLICATE_RATIO] = "duplicate_ratio",
    [HG_ALERT_ERROR_RATIO] = "error_ratio",
    [HG_ALERT_SLOW_ACK] = "slow_ack",
    [HG_ALERT_STORE] = "store",
    [HG_ALERT_CIRCUIT] = "circuit",
};

#define DAY_MS     (24 * HG_HOUR_MS)
#define HOLD_MS    60000         /* a condition false this long resolves its alert */
#define REFRESH_MS (HOLD_MS / 4) /* how often a node says a per-node alert holds */
#define SNAP_MAX   (HG_HOUR_MS / HG_ALERTS_EVERY_MS + 8)
#define N_WINDOWED 3 /* bad_signatures, rate_limited, dead: counted over `per` */

static const enum hg_stat windowed_stat[N_WINDOWED] = {HG_STAT_INVALID_SIGNATURES,
						       HG_STAT_RATE_LIMITED, HG_STAT_DEAD};

struct snap {
	int64_t t, hour;
	uint64_t c[N_WINDOWED];
};

/* What this node remembers of one source ("" for the gateway's rules). */
struct src_state {
	char name[HG_STATS_NAME_MAX];
	struct snap *ring; /* SNAP_MAX; oldest at (head + SNAP_MAX - n) % SNAP_MAX */
	size_t head, n;
	int64_t baseline_hour; /* the hour baseline_mean was computed for */
	double baseline_mean;
	int baseline_days; /* days of the baseline with traffic in that hour */
	int64_t false_since[HG_ALERT_N];
};

struct firing {
	int rule;
	char source[HG_STORE_NAME_MAX + 2];
	int64_t fired_ms, updated_ms;
};

struct hg_alerts {
	struct hg_deliver *engine; /* woken after a publish, asked for circuits (mu) */
	struct src_state *srcs;
	size_t n_srcs;
	/* what /metrics shows, under mu */
	pthread_mutex_t mu;
	struct firing *firing;
	size_t n_firing;
	uint64_t changes[HG_ALERT_N][2]; /* [rule][1: fired, 0: resolved] */
	/* the store rule as this node sees it, even when the store cannot
	 * record it: alarm since alarm_ms, over once the store took writes
	 * for HOLD_MS (since ok_since) */
	int store_alarm;
	int64_t store_ok_since;
};

int hg_alerts_new(struct hg_alerts **out)
{
	*out = calloc(1, sizeof(**out));
	if (*out == NULL)
		return HG_ENOMEM;
	pthread_mutex_init(&(*out)->mu, NULL);
	return HG_OK;
}

void hg_alerts_set_engine(struct hg_alerts *al, struct hg_deliver *d)
{
	if (al == NULL)
		return;
	pthread_mutex_lock(&al->mu); /* waits out a round's use of the old one */
	al->engine = d;
	pthread_mutex_unlock(&al->mu);
}

void hg_alerts_free(struct hg_alerts *al)
{
	size_t i;

	if (al == NULL)
		return;
	for (i = 0; i < al->n_srcs; i++)
		free(al->srcs[i].ring);
	free(al->srcs);
	free(al->firing);
	pthread_mutex_destroy(&al->mu);
	free(al);
}

uint64_t hg_alert_window_count(const struct hg_alert_window *w)
{
	int64_t hour = hg_stats_hour_of(w->now_ms);

	if (w->snap_hour_ms == hour)
		return w->cur > w->snap_count ? w->cur - w->snap_count : 0;
	if (w->snap_hour_ms == hour - HG_HOUR_MS)
		return (w->prev > w->snap_count ? w->prev - w->snap_count : 0) + w->cur;
	return w->cur + w->prev; /* an older snapshot: the two hours there are */
}

static int rule_on(const struct hg_alert_config *a, int rule)
{
	switch (rule) {
	case HG_ALERT_BAD_SIGNATURES:
		return a->bad_signatures.on;
	case HG_ALERT_RATE_LIMITED:
		return a->rate_limited.on;
	case HG_ALERT_DEAD:
		return a->dead.on;
	case HG_ALERT_VOLUME:
		return a->volume_on;
	case HG_ALERT_DUPLICATE_RATIO:
		return a->duplicate_on;
	case HG_ALERT_ERROR_RATIO:
		return a->error_on;
	case HG_ALERT_SLOW_ACK:
		return a->slow_ack_on;
	case HG_ALERT_STORE:
		return a->store_on;
	default:
		return a->circuit_on;
	}
}

static const struct hg_alert_limit *limit_of(const struct hg_alert_config *a, int i)
{
	return i == 0 ? &a->bad_signatures : i == 1 ? &a->rate_limited : &a->dead;
}

static struct src_state *src_get(struct hg_alerts *al, const char *name)
{
	struct src_state *grown;
	size_t i;

	for (i = 0; i < al->n_srcs; i++)
		if (strcmp(al->srcs[i].name, name) == 0)
			return &al->srcs[i];
	grown = realloc(al->srcs, (al->n_srcs + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	al->srcs = grown;
	memset(&grown[al->n_srcs], 0, sizeof(*grown));
	hg_strlcpy(grown[al->n_srcs].name, name, sizeof(grown[al->n_srcs].name));
	grown[al->n_srcs].ring = calloc(SNAP_MAX, sizeof(struct snap));
	if (grown[al->n_srcs].ring == NULL)
		return NULL;
	return &al->srcs[al->n_srcs++];
}

static void snap_push(struct src_state *s, int64_t now, int64_t hour,
		      const struct hg_stats_row *cur)
{
	struct snap *p = &s->ring[s->head];
	int i;

	p->t = now;
	p->hour = hour;
	for (i = 0; i < N_WINDOWED; i++)
		p->c[i] = cur->count[windowed_stat[i]];
	s->head = (s->head + 1) % SNAP_MAX;
	if (s->n < SNAP_MAX)
		s->n++;
}

/* The count of windowed counter i over the last per_ms. *partial is set
 * when this node's snapshots do not reach back that far (just started):
 * the count is then a lower bound, enough to fire, not to resolve. */
static uint64_t windowed(const struct src_state *s, int i, int64_t now, int64_t per_ms,
			 const struct hg_stats_row *prev, const struct hg_stats_row *cur,
			 int *partial)
{
	struct hg_alert_window w = {.now_ms = now,
				    .cur = cur->count[windowed_stat[i]],
				    .prev = prev->count[windowed_stat[i]]};
	size_t k;

	*partial = s->n == 0 || s->ring[(s->head + SNAP_MAX - s->n) % SNAP_MAX].t >
				    now - per_ms + 2 * HG_ALERTS_EVERY_MS;
	for (k = 0; k < s->n; k++) {
		const struct snap *p = &s->ring[(s->head + SNAP_MAX - s->n + k) % SNAP_MAX];

		if (p->t >= now - per_ms) {
			w.snap_hour_ms = p->hour;
			w.snap_count = p->c[i];
			return hg_alert_window_count(&w);
		}
	}
	return 0; /* no snapshot yet */
}

/* The mean of requests in this hour of the day over the baseline's days
 * that had any; computed once per hour. */
static void baseline(struct src_state *s, struct hg_store *st, const struct hg_alert_config *a,
		     int64_t hour)
{
	struct hg_stats_row row;
	int64_t d, days = a->volume_baseline_ms / DAY_MS;
	double sum = 0;

	if (s->baseline_hour == hour)
		return;
	s->baseline_hour = hour;
	s->baseline_days = 0;
	for (d = 1; d <= days; d++) {
		memset(&row, 0, sizeof(row));
		if (hg_store_stats_read(st, s->name, hour - d * DAY_MS, &row, 1) != HG_OK) {
			s->baseline_hour = 0; /* try again next round */
			s->baseline_days = 0;
			return;
		}
		if (row.count[HG_STAT_RECEIVED] > 0) {
			sum += (double)row.count[HG_STAT_RECEIVED];
			s->baseline_days++;
		}
	}
	s->baseline_mean = s->baseline_days > 0 ? sum / s->baseline_days : 0;
}

/* One rule's verdict for one source. partial: a false cond is not known
 * to be false (the count may be short), so it resolves nothing. */
struct verdict {
	int cond, partial;
	double value, threshold;
};

/* part of the previous hour a sliding hour still holds */
static double prorated(uint64_t prev, uint64_t cur, double rest)
{
	return (double)cur + (double)prev * rest;
}

static void judge_source(struct src_state *s, struct hg_store *st, const struct hg_alert_config *a,
			 int64_t now, const struct hg_stats_row rows[2], struct verdict *v)
{
	const struct hg_stats_row *prev = &rows[0], *cur = &rows[1];
	int64_t hour = hg_stats_hour_of(now);
	double rest = 1.0 - (double)(now - hour) / (double)HG_HOUR_MS, num, den;
	uint64_t hist[HG_STATS_BUCKETS], n = 0;
	int i;

	for (i = 0; i < N_WINDOWED; i++) {
		const struct hg_alert_limit *l = limit_of(a, i);

		v[i].value = (double)windowed(s, i, now, l->per_ms, prev, cur, &v[i].partial);
		v[i].threshold = (double)l->limit;
		v[i].cond = l->on && v[i].value > v[i].threshold;
	}
	if (a->volume_on) {
		baseline(s, st, a, hour);
		v[HG_ALERT_VOLUME].value = (double)cur->count[HG_STAT_RECEIVED];
		v[HG_ALERT_VOLUME].threshold = a->volume_factor * s->baseline_mean;
		v[HG_ALERT_VOLUME].cond = s->baseline_days > 0 &&
					  v[HG_ALERT_VOLUME].value >= (double)a->min_requests &&
					  v[HG_ALERT_VOLUME].value > v[HG_ALERT_VOLUME].threshold;
	}
	num = prorated(prev->count[HG_STAT_DUPLICATES], cur->count[HG_STAT_DUPLICATES], rest);
	den = prorated(prev->count[HG_STAT_RECEIVED], cur->count[HG_STAT_RECEIVED], rest);
	v[HG_ALERT_DUPLICATE_RATIO].value = den > 0 ? num / den : 0;
	v[HG_ALERT_DUPLICATE_RATIO].threshold = a->duplicate_ratio;
	v[HG_ALERT_DUPLICATE_RATIO].cond =
	    a->duplicate_on && den >= (double)a->min_requests && num / den > a->duplicate_ratio;
	num = prorated(prev->count[HG_STAT_FAILED] + prev->count[HG_STAT_DEAD],
		       cur->count[HG_STAT_FAILED] + cur->count[HG_STAT_DEAD], rest);
	den = num + prorated(prev->count[HG_STAT_DELIVERED], cur->count[HG_STAT_DELIVERED], rest);
	v[HG_ALERT_ERROR_RATIO].value = den > 0 ? num / den : 0;
	v[HG_ALERT_ERROR_RATIO].threshold = a->error_ratio;
	v[HG_ALERT_ERROR_RATIO].cond =
	    a->error_on && den >= (double)a->min_requests && num / den > a->error_ratio;
	/* this hour's acknowledgements, with the last hour's while they are few */
	for (i = 0; i < HG_STATS_BUCKETS; i++)
		n += cur->latency[i];
	for (i = 0; i < HG_STATS_BUCKETS; i++)
		hist[i] = cur->latency[i] + ((int64_t)n < a->min_requests ? prev->latency[i] : 0);
	for (i = 0, n = 0; i < HG_STATS_BUCKETS; i++)
		n += hist[i];
	v[HG_ALERT_SLOW_ACK].value =
	    n > 0 ? (double)hg_stats_percentile_us(hist, 0.95) / 1000.0 : 0;
	v[HG_ALERT_SLOW_ACK].threshold = (double)a->slow_ack_ms;
	v[HG_ALERT_SLOW_ACK].cond = a->slow_ack_on && (int64_t)n >= a->min_requests &&
				    v[HG_ALERT_SLOW_ACK].value > (double)a->slow_ack_ms;
}

/* ---- the state changes ---- */

struct listed {
	struct firing *f;
	size_t n, cap;
	int oom;
};

static int listed_add(struct listed *l, int r, const char *source, int64_t fired_ms,
		      int64_t updated_ms)
{
	struct firing *grown;

	if (l->n == l->cap) {
		grown = realloc(l->f, (l->cap ? 2 * l->cap : 16) * sizeof(*grown));
		if (grown == NULL) {
			l->oom = 1;
			return 1;
		}
		l->f = grown;
		l->cap = l->cap ? 2 * l->cap : 16;
	}
	l->f[l->n].rule = r;
	l->f[l->n].fired_ms = fired_ms;
	l->f[l->n].updated_ms = updated_ms;
	hg_strlcpy(l->f[l->n].source, source, sizeof(l->f[l->n].source));
	l->n++;
	return 0;
}

/* Takes (r, source) out of l; the time it fired (0: it was not there). */
static int64_t listed_remove(struct listed *l, int r, const char *source)
{
	int64_t fired;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->f[i].rule == r && strcmp(l->f[i].source, source) == 0) {
			fired = l->f[i].fired_ms;
			l->f[i] = l->f[--l->n];
			return fired;
		}
	return 0;
}

static int list_firing(const struct hg_store_alert *a, void *arg)
{
	int r;

	if (!a->firing)
		return 0;
	for (r = 0; r < HG_ALERT_N && strcmp(hg_alert_rule_names[r], a->rule) != 0; r++)
		;
	return r < HG_ALERT_N ? listed_add(arg, r, a->source, a->fired_ms, a->updated_ms)
			      : 0; /* else: a rule this build does not know */
}

/* The firing alert (rule, source) in l, or NULL. */
static struct firing *find_firing(const struct listed *l, int rule, const char *source)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->f[i].rule == rule && strcmp(l->f[i].source, source) == 0)
			return &l->f[i];
	return NULL;
}

/* The rules each node judges on its own: what one node sees, another may
 * not. Such an alert fires when any node finds its condition; the nodes
 * that still find it refresh it (hg_store_alert_set), and it resolves once
 * none has for HOLD_MS. */
static int per_node(int rule)
{
	return rule == HG_ALERT_STORE || rule == HG_ALERT_CIRCUIT;
}

/* The window a rule looks at, for the event: its `per`, an hour for the
 * hourly rules, the baseline for volume, 0 for the store. */
static int64_t window_of(const struct hg_alert_config *a, int rule)
{
	if (rule < N_WINDOWED)
		return limit_of(a, rule)->per_ms;
	if (rule == HG_ALERT_VOLUME)
		return a->volume_baseline_ms;
	return rule == HG_ALERT_STORE || rule == HG_ALERT_CIRCUIT ? 0 : HG_HOUR_MS;
}

/* hookgate.alert.firing / .resolved on the event bus: to the operator's
 * subscriptions and alerts.endpoint (events.h), once per change (the
 * dedupe key holds the time of the firing it belongs to). */
static void announce(struct hg_alerts *al, struct hg_store *st, const struct hg_config *cfg,
		     const struct hg_store_alert *a, int64_t fired_ms, int64_t now)
{
	char dedupe[160];
	struct hg_event ev = {.type =
				  a->firing ? "hookgate.alert.firing" : "hookgate.alert.resolved",
			      .dedupe = dedupe,
			      .now_ms = now};
	int rule;

	for (rule = 0; rule < HG_ALERT_N && strcmp(hg_alert_rule_names[rule], a->rule); rule++)
		;
	snprintf(dedupe, sizeof(dedupe), "alert:%s:%s:%lld:%s", a->rule, a->source,
		 (long long)fired_ms, a->firing ? "firing" : "resolved");
	ev.data = json_pack("{s:s, s:s?, s:f, s:f, s:I, s:s}", "rule", a->rule, "source",
			    a->source[0] != '\0' ? a->source : NULL, "value", a->value, "threshold",
			    a->threshold, "window_ms",
			    (json_int_t)(rule < HG_ALERT_N ? window_of(&cfg->alerts, rule) : 0),
			    "state", a->firing ? "firing" : "resolved");
	if (ev.data == NULL)
		return;
	if (hg_events_publish(st, cfg, &ev) == HG_OK) {
		pthread_mutex_lock(&al->mu);
		hg_deliver_wake(al->engine); /* NULL is fine */
		pthread_mutex_unlock(&al->mu);
	}
	json_decref(ev.data);
}

static void log_change(int rule, const char *source, int firing, const struct verdict *v)
{
	hg_log(firing ? HG_LOG_WARN : HG_LOG_INFO, firing ? "alert firing" : "alert resolved",
	       "rule", HG_LS(hg_alert_rule_names[rule]), "source", HG_LS(source), "value",
	       HG_LF(v->value), "threshold", HG_LF(v->threshold), NULL);
}

/* Makes the change in the store; the node whose change it was announces it.
 * l follows, so this round's view (and /metrics) includes it. */
static void change(struct hg_alerts *al, struct hg_store *st, const struct hg_config *cfg,
		   struct listed *l, int rule, const char *source, int firing,
		   const struct verdict *v, int64_t now)
{
	struct hg_store_alert a = {.firing = firing, .value = v->value, .threshold = v->threshold};
	int64_t fired;
	int changed = 0;

	hg_strlcpy(a.rule, hg_alert_rule_names[rule], sizeof(a.rule));
	hg_strlcpy(a.source, source, sizeof(a.source));
	if (hg_store_alert_set(st, &a, now, &changed) != HG_OK || !changed)
		return;
	if (firing) {
		fired = now;
		listed_add(l, rule, source, now, now);
	} else {
		fired = listed_remove(l, rule, source);
	}
	if (rule != HG_ALERT_STORE) { /* that one's log line is this node's own */
		pthread_mutex_lock(&al->mu);
		al->changes[rule][firing ? 1 : 0]++;
		pthread_mutex_unlock(&al->mu);
		log_change(rule, source, firing, v);
	}
	announce(al, st, cfg, &a, fired, now);
}

/* A per-node alert this node still finds: say so now and then. */
static void refresh(struct hg_store *st, struct firing *f, const struct verdict *v, int64_t now)
{
	struct hg_store_alert a = {.firing = 1, .value = v->value, .threshold = v->threshold};
	int changed = 0;

	if (now - f->updated_ms < REFRESH_MS)
		return;
	hg_strlcpy(a.rule, hg_alert_rule_names[f->rule], sizeof(a.rule));
	hg_strlcpy(a.source, f->source, sizeof(a.source));
	if (hg_store_alert_set(st, &a, now, &changed) == HG_OK)
		f->updated_ms = now;
}

/* A condition fires its alert at once and resolves it once it has been
 * false for HOLD_MS (or the rule's window when shorter). */
static void decide(struct hg_alerts *al, struct hg_store *st, const struct hg_config *cfg,
		   struct src_state *s, int rule, const struct verdict *v, struct listed *l,
		   int64_t now)
{
	const struct hg_alert_config *a = &cfg->alerts;
	struct firing *f = find_firing(l, rule, s->name);
	int64_t hold = HOLD_MS;

	if (rule < N_WINDOWED && limit_of(a, rule)->per_ms < hold)
		hold = limit_of(a, rule)->per_ms;
	if (v->cond) {
		s->false_since[rule] = 0;
		if (f == NULL)
			change(al, st, cfg, l, rule, s->name, 1, v, now);
		else if (per_node(rule))
			refresh(st, f, v, now);
		return;
	}
	if (f == NULL)
		return;
	if (!rule_on(a, rule)) {
		change(al, st, cfg, l, rule, s->name, 0, v, now);
		return;
	}
	if (v->partial) { /* not known to be over */
		s->false_since[rule] = 0;
		return;
	}
	if (per_node(rule)) { /* over when no node has said otherwise for a while */
		if (now - f->updated_ms >= HOLD_MS)
			change(al, st, cfg, l, rule, s->name, 0, v, now);
		return;
	}
	if (s->false_since[rule] == 0)
		s->false_since[rule] = now;
	if (now - s->false_since[rule] >= hold)
		change(al, st, cfg, l, rule, s->name, 0, v, now);
}

/* The store rule is judged here first, without the store: a store that
 * refuses writes cannot record its own alert, so the log line and
 * /metrics come from this node. The alarm lasts until the store has taken
 * writes for HOLD_MS; meanwhile decide() records and announces it once
 * the store can. */
static void store_local(struct hg_alerts *al, const struct hg_config *cfg, int64_t now,
			int store_ok)
{
	struct verdict v = {.value = store_ok ? 0 : 1};
	int was = al->store_alarm, alarm = was; /* only this thread writes it */

	if (!cfg->alerts.store_on || store_ok) {
		if (al->store_ok_since == 0)
			al->store_ok_since = now;
		if (was && (!cfg->alerts.store_on || now - al->store_ok_since >= HOLD_MS))
			alarm = 0;
	} else {
		al->store_ok_since = 0;
		alarm = 1;
	}
	if (was == alarm)
		return;
	pthread_mutex_lock(&al->mu);
	al->store_alarm = alarm;
	al->changes[HG_ALERT_STORE][alarm]++;
	pthread_mutex_unlock(&al->mu);
	log_change(HG_ALERT_STORE, "", alarm, &v);
}

/* Whether what an alert is about is still configured: its source, or for
 * the circuit rule its endpoint ("" is the gateway). */
static int still_there(const struct hg_config *cfg, int rule, const char *name)
{
	if (name[0] == '\0')
		return 1;
	if (rule == HG_ALERT_CIRCUIT)
		return hg_config_find_endpoint(cfg, name) != NULL;
	return hg_config_find_source(cfg, name, strlen(name)) != NULL;
}

void hg_alerts_tick(struct hg_alerts *al, struct hg_store *st, const struct hg_config *cfg,
		    int64_t now_ms, int store_ok)
{
	const struct hg_alert_config *a = &cfg->alerts;
	struct listed l = {0};
	struct hg_stats_row rows[2];
	struct verdict v[HG_ALERT_N], gone = {0};
	struct src_state *s;
	int64_t hour = hg_stats_hour_of(now_ms);
	size_t i;
	int r;

	store_local(al, cfg, now_ms, store_ok);
	if (st == NULL || hg_store_alert_list(st, now_ms, list_firing, &l) != HG_OK || l.oom) {
		free(l.f);
		return; /* the store cannot say what fires: try next round */
	}
	for (i = 0; i < cfg->n_sources; i++) {
		s = src_get(al, cfg->sources[i].name);
		memset(rows, 0, sizeof(rows));
		if (s == NULL ||
		    hg_store_stats_read(st, s->name, hour - HG_HOUR_MS, rows, 2) != HG_OK)
			continue;
		snap_push(s, now_ms, hour, &rows[1]);
		memset(v, 0, sizeof(v));
		judge_source(s, st, a, now_ms, rows, v);
		for (r = 0; r < HG_ALERT_STORE; r++)
			decide(al, st, cfg, s, r, &v[r], &l, now_ms);
	}
	s = src_get(al, "");
	if (s != NULL) {
		v[HG_ALERT_STORE] =
		    (struct verdict){.cond = al->store_alarm, .value = store_ok ? 0 : 1};
		decide(al, st, cfg, s, HG_ALERT_STORE, &v[HG_ALERT_STORE], &l, now_ms);
	}
	for (i = 0; i < cfg->n_endpoints; i++) {
		struct hg_deliver_health h;

		memset(&h, 0, sizeof(h));
		pthread_mutex_lock(&al->mu);
		hg_deliver_health(al->engine, cfg->endpoints[i].name, &h);
		pthread_mutex_unlock(&al->mu);
		s = src_get(al, cfg->endpoints[i].name);
		if (s == NULL)
			continue;
		v[HG_ALERT_CIRCUIT] =
		    (struct verdict){.cond = a->circuit_on && h.state != HG_CIRCUIT_CLOSED,
				     .value = (double)h.failures_in_row,
				     .threshold = (double)cfg->endpoints[i].circuit.failures};
		decide(al, st, cfg, s, HG_ALERT_CIRCUIT, &v[HG_ALERT_CIRCUIT], &l, now_ms);
	}
	/* alerts of what is no longer configured, or of a rule turned off
	 * (change() takes each out of l: the next one moves to i) */
	for (i = 0; i < l.n;) {
		struct firing f = l.f[i];

		if (!still_there(cfg, f.rule, f.source) || !rule_on(a, f.rule))
			change(al, st, cfg, &l, f.rule, f.source, 0, &gone, now_ms);
		if (i < l.n && l.f[i].rule == f.rule && strcmp(l.f[i].source, f.source) == 0)
			i++;
	}
	/* what /metrics shows: the state as this round found it */
	pthread_mutex_lock(&al->mu);
	free(al->firing);
	al->firing = l.f;
	al->n_firing = l.n;
	pthread_mutex_unlock(&al->mu);
}

static int firing_now(const struct hg_alerts *al, int rule, const char *source)
{
	size_t i;

	for (i = 0; i < al->n_firing; i++)
		if (al->firing[i].rule == rule && strcmp(al->firing[i].source, source) == 0)
			return 1;
	return 0;
}

int hg_alerts_metrics(struct hg_alerts *al, const struct hg_config *cfg, struct hg_buf *b)
{
	size_t i;
	int r;

	hg_buf_puts(b, "# HELP hookgate_alerts_firing 1 while the alert of a rule fires for a "
		       "source (\"\" for the gateway), as of the last evaluation.\n"
		       "# TYPE hookgate_alerts_firing gauge\n");
	pthread_mutex_lock(&al->mu);
	for (r = 0; r < HG_ALERT_STORE; r++)
		for (i = 0; i < cfg->n_sources; i++)
			if (rule_on(&cfg->alerts, r))
				hg_buf_printf(
				    b, "hookgate_alerts_firing{rule=\"%s\",source=\"%s\"} %d\n",
				    hg_alert_rule_names[r], cfg->sources[i].name,
				    firing_now(al, r, cfg->sources[i].name));
	if (cfg->alerts.store_on)
		hg_buf_printf(b, "hookgate_alerts_firing{rule=\"store\",source=\"\"} %d\n",
			      al->store_alarm || firing_now(al, HG_ALERT_STORE, ""));
	for (i = 0; cfg->alerts.circuit_on && i < cfg->n_endpoints; i++)
		hg_buf_printf(b, "hookgate_alerts_firing{rule=\"circuit\",source=\"%s\"} %d\n",
			      cfg->endpoints[i].name,
			      firing_now(al, HG_ALERT_CIRCUIT, cfg->endpoints[i].name));
	hg_buf_puts(b, "# HELP hookgate_alerts_changes_total Alerts this node made fire or "
		       "resolve.\n# TYPE hookgate_alerts_changes_total counter\n");
	for (r = 0; r < HG_ALERT_N; r++)
		hg_buf_printf(
		    b,
		    "hookgate_alerts_changes_total{rule=\"%s\",state=\"firing\"} %llu\n"
		    "hookgate_alerts_changes_total{rule=\"%s\",state=\"resolved\"} %llu\n",
		    hg_alert_rule_names[r], (unsigned long long)al->changes[r][1],
		    hg_alert_rule_names[r], (unsigned long long)al->changes[r][0]);
	pthread_mutex_unlock(&al->mu);
	return hg_buf_status(b);
}
