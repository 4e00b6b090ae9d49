/*
 * select.c - routes through a select module: running its select op (on a
 * helper thread for connections) and turning the alternatives it names
 * into route lines that fail over in order (select.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>

#include "buf.h"
#include "chain.h"
#include "error.h"
#include "select.h"

struct ps_select {
	struct snapshot *snap;
	const struct instance *inst;
	long long deadline_ms;
	char *alts[PS_SELECT_MAX_ALTERNATIVES];   /* "DIRECT" or display URL */
	size_t nalts;
	char answer[420];
	ps_error err;
};

/* ------------------------------------------------------------------ */
/* the services of module.h                                            */
/* ------------------------------------------------------------------ */

static int select_failf(ps_select *sel, int code, const char *hint,
			const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static int select_failf(ps_select *sel, int code, const char *hint,
			const char *fmt, va_list ap)
{
	char layer[80];

	/* The first failure is the cause. */
	if (sel->err.code != PS_OK)
		return sel->err.code;
	snprintf(layer, sizeof(layer), "%s", sel->inst->mod->name);
	return err_setv(&sel->err, code, layer, -1, hint, fmt, ap);
}

int ps_select_fail(ps_select *sel, int code, const char *hint,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = select_failf(sel, code, hint, fmt, ap);
	va_end(ap);
	return code;
}

static int select_refuse(ps_select *sel, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int select_refuse(ps_select *sel, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	select_failf(sel, PS_ERR_USAGE, "a select module may name DIRECT or"
		     " scheme://host:port with scheme http, https, socks4,"
		     " socks4a, socks5 or socks5h", fmt, ap);
	va_end(ap);
	return PS_ERR_USAGE;
}

/* A proxy URL the host can build a stack for, in display form. */
static int select_proxy_url(ps_select *sel, const char *text, char **out)
{
	const char *module = url_proxy_module(text);
	struct url u = { 0 };
	char why[160];
	int rc = PS_OK;

	*out = NULL;
	if (!strstr(text, "://") || !module || !strcmp(module, "pac"))
		return select_refuse(sel, "alternative %zu is not DIRECT or a"
				     " proxy URL", sel->nalts + 1);
	if (url_parse_proxy(text, &u, why, sizeof(why)) < 0)
		rc = select_refuse(sel, "alternative %zu: %s", sel->nalts + 1,
				   why);
	else if (u.user || u.password || strcmp(u.path, "/"))
		rc = select_refuse(sel, "alternative %zu carries credentials"
				   " or a path", sel->nalts + 1);
	else if (!(*out = url_display(&u)))
		rc = err_nomem(&sel->err);
	url_clear(&u);
	return rc;
}

int ps_select_add(ps_select *sel, const char *alternative)
{
	char *copy = NULL;
	int rc;

	if (sel->nalts == PS_SELECT_MAX_ALTERNATIVES)
		return select_refuse(sel, "more than %d alternatives",
				     PS_SELECT_MAX_ALTERNATIVES);
	if (!alternative)
		return select_refuse(sel, "alternative %zu is NULL",
				     sel->nalts + 1);
	if (!strcasecmp(alternative, "DIRECT")) {
		copy = strdup("DIRECT");
		rc = copy ? PS_OK : err_nomem(&sel->err);
	} else {
		rc = select_proxy_url(sel, alternative, &copy);
	}
	if (rc == PS_OK)
		sel->alts[sel->nalts++] = copy;
	return rc;
}

void ps_select_set_answer(ps_select *sel, const char *text)
{
	size_t i;

	for (i = 0; text && text[i] && i + 1 < sizeof(sel->answer); i++)
		sel->answer[i] = (unsigned char)text[i] < 0x20 ||
					 text[i] == 0x7f ? ' ' : text[i];
	sel->answer[i] = '\0';
}

void ps_select_log(ps_select *sel, int level, const char *fmt, ...)
{
	char msg[800];
	va_list ap;

	if (level > sel->snap->lg.level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(&sel->snap->lg, level, "select %s (%s): %s", sel->inst->name,
		sel->inst->mod->name, msg);
}

long ps_select_remaining_ms(const ps_select *sel)
{
	long long left = sel->deadline_ms - clock_now_ms();

	return left > 0 ? (long)left : 0;
}

/* ------------------------------------------------------------------ */
/* one selection                                                       */
/* ------------------------------------------------------------------ */

static void sel_init(ps_select *sel, struct snapshot *s,
		     const struct instance *inst, long timeout_ms)
{
	memset(sel, 0, sizeof(*sel));
	sel->snap = s;
	sel->inst = inst;
	sel->deadline_ms = clock_now_ms() + timeout_ms;
	ps_error_clear(&sel->err);
}

static void sel_clear(ps_select *sel)
{
	for (size_t i = 0; i < sel->nalts; i++)
		free(sel->alts[i]);
	sel->nalts = 0;
}

/*
 * What the module sees: the URL without credentials; for the schemes
 * that carry TLS end to end, without path or query either, as browsers
 * do, so a script (which may come from the network) learns no more
 * than the proxy would.
 */
static char *select_url_of(const struct url *dest)
{
	int plain = !strcmp(dest->scheme, "http") || !strcmp(dest->scheme,
							     "ws");
	char authority[300];
	struct buf b;

	buf_init(&b);
	url_format_authority(dest->host, dest->port, authority,
			     sizeof(authority));
	if (!dest->port_given)
		snprintf(authority, sizeof(authority), dest->host_is_ip == 6
			 ? "[%s]" : "%s", dest->host);
	buf_printf(&b, "%s://%s%s", dest->scheme, authority,
		   plain ? dest->path : "/");
	return buf_steal(&b);
}

/* Run the op.  PS_OK with alternatives, or an error in sel->err. */
static int select_call(ps_select *sel, const char *url, const char *host)
{
	int rc = sel->inst->mod->ops.select(sel, sel->inst->state, url,
					    host);

	if (rc == PS_OK && sel->err.code == PS_OK && sel->nalts == 0)
		rc = ps_select_fail(sel, PS_ERR_INTERNAL, "report it to the"
				    " module's authors", "the module chose"
				    " no alternative");
	if (rc == PS_OK && sel->err.code != PS_OK)
		rc = sel->err.code;	/* an add that failed */
	if (rc != PS_OK && sel->err.code == PS_OK)
		ps_select_fail(sel, rc == PS_AGAIN ? PS_ERR_INTERNAL : rc,
			       NULL, "the select module failed (%s)",
			       ps_code_name(rc));
	return rc == PS_OK ? PS_OK : sel->err.code;
}

/* The alternatives as route lines `stack = X [default=next]`. */
static int select_apply(ps_select *sel, struct route_choice *choice,
			ps_error *err)
{
	struct snapshot *s = sel->snap;

	for (size_t i = 0; i < sel->nalts; i++) {
		struct route_line *rl = &choice->selected[i];
		int rc = PS_OK;

		memset(rl, 0, sizeof(*rl));
		if (!strcmp(sel->alts[i], "DIRECT"))
			rl->stack = s->direct_stack;
		else
			rc = snapshot_proxy_stack(s, sel->alts[i], &rl->stack,
						  err);
		if (rc != PS_OK)
			return rc;
		memset(rl->action, ACT_NEXT, sizeof(rl->action));
		snprintf(rl->control, sizeof(rl->control), "[default=next]");
		snprintf(rl->source, sizeof(rl->source), "select %s,"
			 " alternative %zu", sel->inst->name, i + 1);
	}
	snprintf(choice->answer, sizeof(choice->answer), "%s", sel->answer);
	choice->lines = choice->selected;
	choice->nlines = sel->nalts;
	return PS_OK;
}

int select_choose_blocking(struct snapshot *s, const struct url *dest,
			   struct route_choice *out, ps_error *err)
{
	ps_select sel;
	char *url;
	int rc = route_choose(s, dest, out, err);

	if (rc != PS_OK || !out->select)
		return rc;
	url = select_url_of(dest);
	if (!url)
		return err_nomem(err);
	sel_init(&sel, s, out->select, s->connect_timeout_ms);
	rc = select_call(&sel, url, dest->host);
	if (rc == PS_OK)
		rc = select_apply(&sel, out, err);
	else
		err_copy(err, &sel.err);
	sel_clear(&sel);
	free(url);
	return rc;
}

/* ------------------------------------------------------------------ */
/* on a helper thread, for connections                                 */
/* ------------------------------------------------------------------ */

/*
 * What the selection needs and finds: the helper thread's (offload.c)
 * while conn->select_thread is set, the connection's once taken back.
 */
struct select_job {
	int rc;
	ps_select sel;          /* sel.inst never changes once started */
	char *url;
	char *host;
};

static void job_free(void *arg)
{
	struct select_job *job = arg;

	sel_clear(&job->sel);
	snapshot_unref(job->sel.snap);
	free(job->url);
	free(job->host);
	free(job);
}

static void job_work(void *arg)
{
	struct select_job *job = arg;

	job->rc = select_call(&job->sel, job->url, job->host);
}

int select_begin(struct ps_conn *conn)
{
	struct select_job *job = calloc(1, sizeof(*job));
	int e;

	if (!job)
		return err_nomem(&conn->err);
	sel_init(&job->sel, snapshot_ref(conn->snap), conn->choice.select,
		 conn->opt.timeout_ms);
	job->url = select_url_of(&conn->dest);
	job->host = strdup(conn->dest.host);
	conn->deadline_ms = job->sel.deadline_ms;
	if (!job->url || !job->host) {
		job_free(job);
		return err_nomem(&conn->err);
	}
	log_msg(&conn->snap->lg, PS_LOG_DEBUG, "select %s: asking module %s",
		job->sel.inst->name, job->sel.inst->mod->name);
	if (offload_start(job_work, job_free, job, &conn->select_thread) < 0) {
		e = errno;
		job_free(job);
		return err_set(&conn->err, PS_ERR_NOMEM, "select", -1, NULL,
			       "cannot start a thread: %s", strerror(e));
	}
	conn->select_job = job;
	return PS_OK;
}

void select_release(struct ps_conn *conn)
{
	if (conn->select_thread)
		offload_release(conn->select_thread);   /* frees the job */
	else if (conn->select_job)
		job_free(conn->select_job);
	conn->select_thread = NULL;
	conn->select_job = NULL;
}

static int select_failed(struct ps_conn *conn)
{
	select_release(conn);
	conn->state = CONN_FAILED;
	return conn->err.code;
}

int select_step(struct ps_conn *conn)
{
	struct select_job *job = conn->select_job;

	if (!offload_done(conn->select_thread)) {
		if (clock_now_ms() < conn->deadline_ms) {
			conn->wants[0].fd = offload_fd(conn->select_thread);
			conn->wants[0].events = POLLIN;
			conn->nwants = 1;
			return PS_AGAIN;
		}
		err_set(&conn->err, PS_ERR_TIMEOUT, job->sel.inst->mod->name,
			-1, "is the script slow, or its name lookups? raise"
			" connect_timeout if the path is just slow",
			"select %s did not choose within %ld ms",
			job->sel.inst->name, conn->opt.timeout_ms);
		return select_failed(conn);
	}
	offload_take(conn->select_thread);
	conn->select_thread = NULL;
	if (job->rc != PS_OK) {
		err_copy(&conn->err, &job->sel.err);
		return select_failed(conn);
	}
	if (select_apply(&job->sel, &conn->choice, &conn->err) != PS_OK)
		return select_failed(conn);
	log_msg(&conn->snap->lg, PS_LOG_DEBUG, "select %s answered: %s",
		job->sel.inst->name, conn->choice.answer);
	select_release(conn);
	conn->line = 0;
	if (chain_setup_line(conn) != PS_OK) {
		conn->state = CONN_FAILED;
		return conn->err.code;
	}
	return PS_OK;
}
