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
		if (r->select) {
			const struct ps_module_ops *ops = &r->select->mod->ops;
			char url[600], authority[300];

			url_format_authority(dest->host, dest->port, authority,
					     sizeof(authority));
			snprintf(url, sizeof(url), "%s://%s%s", dest->scheme,
				 authority, dest->path);
			if (!ops->select)
				return err_set(err, PS_ERR_UNSUPPORTED,
					       r->select->mod->name, -1, NULL,
					       "module %s cannot select",
					       r->select->mod->name);
			ps_error_clear(err);
			/* ABI 1.0 has no way to hand stacks back yet. */
			if (ops->select(r->select->state, url, err) == PS_OK ||
			    !err || err->code == PS_OK)
				return err_set(err, PS_ERR_UNSUPPORTED,
					       r->select->mod->name, -1, NULL,
					       "select modules cannot choose"
					       " stacks in this ABI");
			return err->code;
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
