/*
 * pac.c - the `pac` module: proxy auto-config as a select-phase module
 * (module ABI 1.2, the select op).
 *
 * [select NAME] with module = pac, used by a route's `select = NAME`:
 * for each connection the host asks select(url, host) on its helper
 * thread; the module makes sure it holds a current script (fetching or
 * reading it when it is stale), runs FindProxyForURL in a sandbox
 * (pac_eval.c) and hands the alternatives of its answer to the host,
 * which tries them in order.
 *
 * The script is kept like a configuration snapshot: a reference-counted,
 * immutable text swapped under a lock when a newer one arrives, so an
 * evaluation never sees a half-updated script.  A failed refresh keeps
 * the last good script and says so in the log.  The last good script
 * also outlives a configuration reload (pac_store.c): the new instance
 * of the same source starts from it.
 *
 * Keys (proxystack.conf(5), PAC):
 *
 *   url              http://, https:// (optionally pac+...), or "wpad"
 *   file             an absolute path (instead of url)
 *   refresh          seconds between fetches (default: the server's
 *                    Cache-Control max-age / Expires, else 900)
 *   ca_file          the CAs an https:// script server must chain to
 *   fetch_timeout    seconds for one fetch (default 10)
 *   eval_timeout_ms  milliseconds for one FindProxyForURL (default 1000)
 *   eval_memory_kb   the script heap's budget (default 16384)
 *   answer_cache     seconds an answer is reused for the same URL and
 *                    host (default 60, 0: off; pac_cache.c)
 *
 * As a transport hop (a .pac or pac+ proxy_url in [default] or the
 * environment) it still fails clearly: a proxy URL names one proxy, a PAC
 * script chooses among many, and that takes a [select] section.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* struct addrinfo in module.h (netdb.h), strncasecmp */
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <proxystack/module.h>

#include "pac_cache.h"
#include "pac_eval.h"
#include "pac_fetch.h"
#include "pac_store.h"

#define PAC_HOP_MESSAGE "a PAC script as a hop of a stack (a PAC URL as" \
	" proxy_url) is not supported"
#define PAC_HOP_HINT "configure [select NAME] with module = pac and" \
	" url = http://..., and a [route] with select = NAME"

#define DEFAULT_REFRESH_S 900
#define RETRY_AFTER_FAILURE_S 60
#define WPAD_CANDIDATES_MAX 8

struct pac_instance {
	char *name;
	char *url;                  /* NULL: file */
	char *file;
	char *ca_file;
	int wpad;
	long refresh_s;             /* 0: from the answer's headers */
	long fetch_timeout_ms;
	struct pac_limits limits;
	pthread_mutex_t lock;
	struct pac_script *script;  /* the last good one, or NULL */
	struct pac_store_entry *kept; /* the same, kept across reloads */
	struct pac_cache answers;   /* recent answers of the script */
	long long retry_at_ms;      /* after a failed refresh */
	int refreshing;             /* one thread fetches; others use the
				       last good script meanwhile */
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* configure                                                           */
/* ------------------------------------------------------------------ */

/* Where a PAC script may come from; "pac+" in front is allowed too. */
static int pac_check_url(ps_config *cfg, const char *url, char **out)
{
	if (!strcasecmp(url, "wpad")) {
		*out = strdup("wpad");
		return *out ? PS_OK : PS_ERR_NOMEM;
	}
	if (!strncasecmp(url, "pac+", 4))
		url += 4;
	if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
		return ps_config_error(cfg, "url", "a PAC script comes from"
				       " http://, https:// or wpad (a file:"
				       " use file = PATH)");
	if (strcspn(url + 7, "@") < strcspn(url + 7, "/"))
		return ps_config_error(cfg, "url", "credentials in a PAC"
				       " URL are not supported");
	*out = strdup(url);
	return *out ? PS_OK : PS_ERR_NOMEM;
}

static void pac_unconfigure(void *instance)
{
	struct pac_instance *pi = instance;

	if (!pi)
		return;
	pac_script_unref(pi->script);
	pac_store_detach(pi->kept);
	pac_cache_destroy(&pi->answers);
	pthread_mutex_destroy(&pi->lock);
	free(pi->name);
	free(pi->url);
	free(pi->file);
	free(pi->ca_file);
	free(pi);
}

static int pac_read_numbers(ps_config *cfg, struct pac_instance *pi)
{
	long v = 0;
	int rc;

	rc = ps_config_get_long(cfg, "refresh", 0, 1, 7 * 86400,
				&pi->refresh_s);
	if (rc == PS_OK)
		rc = ps_config_get_long(cfg, "fetch_timeout", 10, 1, 300, &v);
	pi->fetch_timeout_ms = v * 1000;
	if (rc == PS_OK)
		rc = ps_config_get_long(cfg, "eval_timeout_ms", 1000, 10,
					60000, &pi->limits.time_ms);
	if (rc == PS_OK)
		rc = ps_config_get_long(cfg, "eval_memory_kb", 16384, 1024,
					1048576, &v);
	pi->limits.memory_bytes = (size_t)v * 1024;
	if (rc == PS_OK)
		rc = ps_config_get_long(cfg, "answer_cache", 60, 0, 3600, &v);
	pi->answers.ttl_ms = v * 1000;
	return rc;
}

/*
 * Start from the last good script of the same source (an earlier
 * instance's, before a reload): used as is while fresh, and kept when a
 * refresh fails.  The trust is part of the source: a script fetched
 * under another ca_file is not this one.
 */
static int pac_attach_store(struct pac_instance *pi)
{
	char key[2048];

	if ((size_t)snprintf(key, sizeof(key), "%s\n%s",
			     pi->file ? pi->file : pi->url,
			     pi->ca_file ? pi->ca_file : "") >= sizeof(key))
		return PS_OK;	/* too long to share: start empty */
	pi->kept = pac_store_attach(key);
	if (!pi->kept)
		return PS_ERR_NOMEM;
	pi->script = pac_store_get(pi->kept);
	return PS_OK;
}

static int pac_configure(ps_config *cfg, void **instance)
{
	const char *url = ps_config_get(cfg, "url");
	const char *file = ps_config_get(cfg, "file");
	const char *ca_file = ps_config_get(cfg, "ca_file");
	struct pac_instance *pi = calloc(1, sizeof(*pi));
	int rc = PS_OK;

	*instance = NULL;
	if (!pi)
		return PS_ERR_NOMEM;
	pthread_mutex_init(&pi->lock, NULL);
	pac_cache_init(&pi->answers, 0);
	pi->name = strdup(ps_config_name(cfg));
	if (!pi->name)
		rc = PS_ERR_NOMEM;
	else if (url != NULL && file != NULL)
		rc = ps_config_error(cfg, "file", "set url or file, not both");
	else if (url == NULL && file == NULL)
		rc = ps_config_error(cfg, NULL, "set url (the PAC script's"
				     " URL, or wpad) or file (its path)");
	else if (url != NULL)
		rc = pac_check_url(cfg, url, &pi->url);
	else if (file[0] != '/')
		/* Relative to what? The agent's working directory is no
		 * place to look for configuration. */
		rc = ps_config_error(cfg, "file", "needs an absolute path");
	else if (!(pi->file = strdup(file)))
		rc = PS_ERR_NOMEM;
	if (rc == PS_OK && ca_file && ca_file[0] != '/')
		rc = ps_config_error(cfg, "ca_file", "needs an absolute path");
	if (rc == PS_OK && ca_file && !(pi->ca_file = strdup(ca_file)))
		rc = PS_ERR_NOMEM;
	if (rc == PS_OK)
		rc = pac_read_numbers(cfg, pi);
	if (rc == PS_OK && pi->url && !strcmp(pi->url, "wpad"))
		pi->wpad = 1;
	if (rc == PS_OK && !pac_eval_available())
		ps_config_log(cfg, PS_LOG_WARN, "this build has no JavaScript"
			      " engine (duktape): every use of this section"
			      " will fail");
	if (rc == PS_OK)
		rc = pac_attach_store(pi);
	if (rc != PS_OK) {
		pac_unconfigure(pi);
		return rc;
	}
	*instance = pi;
	return PS_OK;
}

/* ------------------------------------------------------------------ */
/* the script: fetch, cache, refresh                                   */
/* ------------------------------------------------------------------ */

/* The WPAD candidates, tried most specific first. */
static int pac_fetch_wpad(ps_select *sel, struct pac_instance *pi,
			  long timeout_ms, struct pac_fetched *out,
			  char *origin, size_t originsz, char *why,
			  size_t whysz)
{
	char *cands[WPAD_CANDIDATES_MAX];
	struct pac_fetched conf;
	size_t n = 0;
	int rc = PS_ERR_RESOLVE;

	snprintf(why, whysz, "no search domain in /etc/resolv.conf");
	if (pac_fetch_file("/etc/resolv.conf", &conf, why, whysz) == PS_OK) {
		n = pac_wpad_candidates(conf.body, cands,
					WPAD_CANDIDATES_MAX);
		free(conf.body);
		if (!n)
			snprintf(why, whysz, "no search domain in"
				 " /etc/resolv.conf");
	}
	for (size_t i = 0; i < n; i++) {
		if (rc != PS_OK) {
			rc = pac_fetch_url(cands[i], pi->ca_file, timeout_ms,
					   out, why, whysz);
			ps_select_log(sel, PS_LOG_DEBUG, "WPAD %s: %s",
				      cands[i], rc == PS_OK ? "found" : why);
			if (rc == PS_OK)
				snprintf(origin, originsz, "%s", cands[i]);
		}
		free(cands[i]);
	}
	return rc;
}

/* A new version from the source, or an error code with 'why'. */
static int pac_load(ps_select *sel, struct pac_instance *pi,
		    struct pac_script **out, char *why, size_t whysz)
{
	long timeout = ps_select_remaining_ms(sel);
	struct pac_fetched f;
	struct pac_script *s = calloc(1, sizeof(*s));
	struct stat st;
	long life;
	int rc;

	*out = NULL;
	if (!s)
		return PS_ERR_NOMEM;
	/* Finish before the host stops waiting, so our reason is heard. */
	timeout = timeout * 4 / 5;
	if (timeout > pi->fetch_timeout_ms)
		timeout = pi->fetch_timeout_ms;
	snprintf(s->origin, sizeof(s->origin), "%s",
		 pi->file ? pi->file : pi->url);
	if (pi->file) {
		rc = stat(pi->file, &st) == 0 ? PS_OK : PS_ERR_CONFIG;
		if (rc == PS_OK) {
			s->mtime = st.st_mtim;
			s->size = st.st_size;
		}
		rc = pac_fetch_file(pi->file, &f, why, whysz);
	} else if (pi->wpad) {
		rc = pac_fetch_wpad(sel, pi, timeout, &f, s->origin,
				    sizeof(s->origin), why, whysz);
	} else {
		rc = pac_fetch_url(pi->url, pi->ca_file, timeout, &f, why,
				   whysz);
	}
	if (rc != PS_OK) {
		free(s);
		return rc;
	}
	if (f.redirects) {
		ps_select_log(sel, PS_LOG_INFO, "PAC script %s: followed %u"
			      " redirect%s to %s", s->origin, f.redirects,
			      f.redirects == 1 ? "" : "s", f.url);
		snprintf(s->origin, sizeof(s->origin), "%.*s",
			 (int)sizeof(s->origin) - 1, f.url);
	}
	atomic_init(&s->refs, 1);
	s->text = f.body;
	s->len = f.len;
	life = pi->refresh_s ? pi->refresh_s
			     : f.max_age_s >= 0 ? f.max_age_s : DEFAULT_REFRESH_S;
	s->expires_ms = mono_ms() + life * 1000;
	s->fetched_at = time(NULL);
	*out = s;
	return PS_OK;
}

/* A file script is stale as soon as the file changed. */
static int pac_stale(const struct pac_instance *pi, const struct pac_script *s)
{
	struct stat st;

	if (!s || mono_ms() >= s->expires_ms)
		return 1;
	if (!pi->file)
		return 0;
	return stat(pi->file, &st) != 0 || st.st_size != s->size ||
	       st.st_mtim.tv_sec != s->mtime.tv_sec ||
	       st.st_mtim.tv_nsec != s->mtime.tv_nsec;
}

/* A failed refresh, with the script that goes on answering. */
static void pac_log_kept(ps_select *sel, const struct pac_instance *pi,
			 const char *why, const struct pac_script *old)
{
	char when[40];
	struct tm tm;

	if (!gmtime_r(&old->fetched_at, &tm) ||
	    !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(when, sizeof(when), "an earlier fetch");
	ps_select_log(sel, PS_LOG_WARN, "PAC script from %s: %s; keeping the"
		      " last good script, from %s (%s)",
		      pi->file ? pi->file : pi->url, why, when, old->origin);
}

/* Swap in a fresh script, or keep the last good one (and say so). */
static void pac_refresh(ps_select *sel, struct pac_instance *pi)
{
	struct pac_script *fresh = NULL, *old;
	char why[300];
	int rc = pac_load(sel, pi, &fresh, why, sizeof(why));

	pthread_mutex_lock(&pi->lock);
	old = pi->script;
	if (rc == PS_OK) {
		pi->script = fresh;
		pi->retry_at_ms = 0;
		pac_store_put(pi->kept, fresh);
	} else {
		/* Retry after a minute, or sooner if refreshes are sooner. */
		pi->retry_at_ms = mono_ms() + 1000 *
			(pi->refresh_s && pi->refresh_s < RETRY_AFTER_FAILURE_S
				 ? pi->refresh_s : RETRY_AFTER_FAILURE_S);
	}
	pthread_mutex_unlock(&pi->lock);
	if (rc == PS_OK) {
		ps_select_log(sel, PS_LOG_INFO, "PAC script loaded from %s"
			      " (%zu bytes)", fresh->origin, fresh->len);
		pac_script_unref(old);
	} else if (old) {
		pac_log_kept(sel, pi, why, old);
	} else {
		ps_select_fail(sel, rc, "check that the PAC URL or file is"
			       " reachable (proxystack.conf(5), PAC)",
			       "no PAC script: %s: %s", pi->file ? pi->file
			       : pi->url, why);
	}
}

/* The script to run now, with a reference; NULL after ps_select_fail. */
static struct pac_script *pac_current(ps_select *sel,
				      struct pac_instance *pi)
{
	struct pac_script *s;
	int refresh;

	pthread_mutex_lock(&pi->lock);
	refresh = pac_stale(pi, pi->script) &&
		  (!pi->script || (mono_ms() >= pi->retry_at_ms &&
				   !pi->refreshing));
	if (refresh)
		pi->refreshing++;
	pthread_mutex_unlock(&pi->lock);
	if (refresh) {
		pac_refresh(sel, pi);
		pthread_mutex_lock(&pi->lock);
		pi->refreshing--;
		pthread_mutex_unlock(&pi->lock);
	}
	pthread_mutex_lock(&pi->lock);
	s = pac_script_ref(pi->script);
	pthread_mutex_unlock(&pi->lock);
	return s;
}

/* ------------------------------------------------------------------ */
/* select                                                              */
/* ------------------------------------------------------------------ */

static int pac_hand_over(ps_select *sel, const char *answer)
{
	struct pac_alternative alts[PAC_MAX_ALTERNATIVES];
	char why[300], url[300];
	size_t n;
	int rc = PS_OK;

	ps_select_set_answer(sel, answer);
	if (pac_parse_answer(answer, alts, PAC_MAX_ALTERNATIVES, &n, why,
			     sizeof(why)) < 0)
		return ps_select_fail(sel, PS_ERR_CONFIG, "fix the PAC"
				      " script's return value", "the PAC"
				      " script's answer: %s", why);
	for (size_t i = 0; rc == PS_OK && i < n; i++) {
		if (pac_alternative_url(&alts[i], url, sizeof(url)) < 0)
			return ps_select_fail(sel, PS_ERR_CONFIG, NULL,
					      "alternative %zu is too long",
					      i + 1);
		rc = ps_select_add(sel, url);
	}
	return rc;
}

static int pac_select(ps_select *sel, void *instance, const char *url,
		      const char *host)
{
	struct pac_instance *pi = instance;
	struct pac_script *script;
	struct pac_limits limits = pi->limits;
	char why[300], *answer = NULL;
	int rc;

	if (!pac_eval_available())
		return ps_select_fail(sel, PS_ERR_UNSUPPORTED, "rebuild"
				      " proxystack with duktape-dev installed,"
				      " or name the proxy explicitly",
				      "this build has no JavaScript engine:"
				      " it cannot run PAC scripts");
	script = pac_current(sel, pi);
	if (!script)
		return PS_ERR_CONNECT;	/* pac_refresh recorded why */
	answer = pac_cache_get(&pi->answers, script, url, host, mono_ms());
	if (answer) {
		pac_script_unref(script);
		ps_select_log(sel, PS_LOG_DEBUG, "PAC answer for %s from the"
			      " cache", host);
		rc = pac_hand_over(sel, answer);
		free(answer);
		return rc;
	}
	if (limits.time_ms > ps_select_remaining_ms(sel))
		limits.time_ms = ps_select_remaining_ms(sel);
	ps_select_log(sel, PS_LOG_DEBUG, "running FindProxyForURL for %s",
		      host);
	rc = pac_eval_run(script->text, script->len, url, host, &limits,
			  &answer, why, sizeof(why));
	if (rc == 0)
		pac_cache_put(&pi->answers, script, url, host, answer,
			      mono_ms());
	pac_script_unref(script);
	if (rc < 0)
		return ps_select_fail(sel, PS_ERR_CONFIG, "fix the PAC script"
				      " (or raise eval_timeout_ms or"
				      " eval_memory_kb)", "PAC script: %s",
				      why);
	rc = pac_hand_over(sel, answer);
	free(answer);
	return rc;
}

/* As a hop: fail before anything connects. */
static int pac_open(ps_layer *layer, void *instance, void **state)
{
	*state = NULL;
	return ps_layer_fail(layer, PS_ERR_UNSUPPORTED, PAC_HOP_HINT,
			     PAC_HOP_MESSAGE);
}

static const struct ps_module_ops pac_ops = {
	.configure = pac_configure,
	.unconfigure = pac_unconfigure,
	.open = pac_open,
	.select = pac_select,
};

const struct ps_module proxystack_module = {
	PS_MODULE_HEADER,
	.name = "pac",
	.phases = PS_PHASE_SELECT | PS_PHASE_TRANSPORT,
	.caps = PS_CAP_PROXY,
#ifdef HAVE_DUKTAPE
	.summary = "proxy auto-config: FindProxyForURL chooses the proxies"
		   " of a [select] route",
#else
	.summary = "proxy auto-config: built without duktape, cannot run"
		   " scripts",
#endif
	.ops = &pac_ops,
};
