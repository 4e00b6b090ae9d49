/*
 * route.c - choosing the stacks for a destination, PAM-style.
 */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "hostmatch.h"
#include "route.h"

/* tls, https, wss and tcp tunnel TLS or opaque bytes: the HTTPS family. */
static int wants_https_proxy(const char *scheme)
{
	return strcmp(scheme, "http") && strcmp(scheme, "ws");
}

static void choose_line(struct route_choice *out, struct stack *st,
			const char *why, const char *source)
{
	memset(&out->implicit, 0, sizeof(out->implicit));
	out->implicit.stack = st;
	memset(out->implicit.action, ACT_DIE, sizeof(out->implicit.action));
	snprintf(out->implicit.control, sizeof(out->implicit.control),
		 "requisite");
	snprintf(out->implicit.source, sizeof(out->implicit.source), "%s",
		 st->source);
	snprintf(out->why + strlen(out->why), sizeof(out->why) - strlen(out->why),
		 "%s%s%s", why, source ? source : "", source ? ")" : "");
	out->lines = &out->implicit;
	out->nlines = 1;
}

/* The system variable's stack for this scheme, or NULL. */
static struct stack *env_stack(const struct snapshot *s, const char *scheme)
{
	if (wants_https_proxy(scheme)) {
		if (s->env_https_stack)
			return s->env_https_stack;
		if (s->env_http_stack)
			return s->env_http_stack;
	} else if (s->env_http_stack) {
		return s->env_http_stack;
	}
	return s->env_all_stack;
}

static int implicit_choice(const struct snapshot *s, const struct url *dest,
			   int use_no_proxy, struct route_choice *out,
			   ps_error *err)
{
	struct stack *st;

	if (use_no_proxy && s->no_proxy.value &&
	    hostmatch_list(s->no_proxy.value, dest->host, dest->port)) {
		choose_line(out, s->direct_stack, "no_proxy covers the"
			    " destination: direct (no_proxy from ",
			    s->no_proxy.source);
		return PS_OK;
	}
	if (s->default_stack) {
		choose_line(out, s->default_stack, "the default proxy (from ",
			    s->proxy_url.source);
		return PS_OK;
	}
	st = env_stack(s, dest->scheme);
	if (st && st->broken)
		return err_set(err, PS_ERR_CONFIG, "config", -1,
			       "fix or unset the variable, or name the proxy"
			       " in /etc/proxystack.d",
			       "%s: refusing to connect without the proxy it"
			       " names: %s", st->source, st->broken);
	if (st) {
		choose_line(out, st, "a system proxy variable (",
			    st->source);
		return PS_OK;
	}
	choose_line(out, s->direct_stack,
		    "no proxy configured anywhere: direct", NULL);
	return PS_OK;
}

/*
 * A route through a [select] section whose module has no select op (one
 * built before ABI 1.2): it cannot hand stacks back, so the route fails,
 * with what to configure instead, and nothing leaves directly.
 */
static int select_unsupported(const struct route *r, ps_error *err)
{
	const char *module = r->select->mod->name;

	return err_set(err, PS_ERR_UNSUPPORTED, module, -1,
		       "name the proxy explicitly: proxy_url ="
		       " http://proxy:port in [default], or a [transport]"
		       " + [stack]",
		       "route %s: choosing stacks with a select module (%s)"
		       " is not supported", r->name, module);
}

int route_choose(const struct snapshot *s, const struct url *dest,
		 struct route_choice *out, ps_error *err)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < s->nroutes; i++) {
		const struct route *r = &s->routes[i];

		if (!hostmatch_list(r->match, dest->host, dest->port))
			continue;
		out->route = r;
		snprintf(out->why, sizeof(out->why), "route %s (%s) matches: ",
			 r->name, r->source);
		if (r->select && !r->select->mod->ops.select)
			return select_unsupported(r, err);
		if (r->select) {
			/* select.h turns the module's answer into lines. */
			out->select = r->select;
			strncat(out->why, "its select module",
				sizeof(out->why) - strlen(out->why) - 1);
			return PS_OK;
		}
		if (r->nlines == 0)
			return implicit_choice(s, dest, 0, out, err);
		out->lines = r->lines;
		out->nlines = r->nlines;
		strncat(out->why, "its stack lines",
			sizeof(out->why) - strlen(out->why) - 1);
		return PS_OK;
	}
	return implicit_choice(s, dest, 1, out, err);
}

enum route_action route_action_for(const struct route_line *line, int code)
{
	return (enum route_action)line->action[result_class_of(code)];
}
