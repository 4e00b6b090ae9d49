/*
 * serve_config.c - the [serve] section: checked when a snapshot is built
 * (file:line errors, so a bad local-proxy setting fails the load like
 * any other), and handed to `proxystack serve` through
 * ps_ctx_serve_config().  The library never listens itself; it only owns
 * the configuration, so that one directory describes the whole site.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "modconfig.h"
#include "serve_config.h"

#define SERVE_DEFAULT_LISTEN "127.0.0.1:3128"
#define SERVE_LISTEN_MAX 16

/* The numbers of [serve]: key, default, smallest, largest. */
static const struct serve_number {
	const char *key;
	int dflt, min, max;
	size_t offset;
} serve_numbers[] = {
	{ "max_clients", 1024, 1, 1000000,
	  offsetof(ps_serve_config, max_clients) },
	{ "max_tunnels_per_client", 512, 1, 1000000,
	  offsetof(ps_serve_config, max_tunnels_per_client) },
	{ "idle_timeout", 300, 1, 86400,
	  offsetof(ps_serve_config, idle_timeout_s) },
	{ "drain_timeout", 10, 0, 3600,
	  offsetof(ps_serve_config, drain_timeout_s) },
};

int ps_serve_listen_kind(const char *text)
{
	char host[64];
	const char *colon;
	unsigned char bytes[16];
	unsigned long port;
	char *end;
	size_t len;
	int v6;

	if (!text)
		return -1;
	v6 = text[0] == '[';
	colon = v6 ? strstr(text, "]:") : strrchr(text, ':');
	if (!colon)
		return -1;
	len = (size_t)(colon - text) - (size_t)v6;
	if (len == 0 || len >= sizeof(host))
		return -1;
	memcpy(host, text + v6, len);
	host[len] = '\0';
	colon += v6 ? 2 : 1;
	errno = 0;
	port = strtoul(colon, &end, 10);
	if (*colon < '0' || *colon > '9' || *end || errno || port < 1 ||
	    port > 65535)
		return -1;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, bytes) != 1)
		return -1;
	if (v6)
		return !memcmp(bytes, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
	return bytes[0] == 127;
}

static int serve_fail(ps_error *err, const struct ini_entry *e,
		      const char *hint, const char *what)
{
	char where[SOURCE_MAX];

	ini_where(e, where, sizeof(where));
	return err_set(err, PS_ERR_CONFIG, "config", -1, hint,
		       "%s: [serve] %s: %s '%.64s'", where, e->key, what,
		       e->value);
}

/*
 * The last entry for 'key', without marking it used: the snapshot is
 * shared between threads once built, so the getter must not write to it.
 */
static const struct ini_entry *serve_find(const struct ini_section *sec,
					  const char *key)
{
	const struct ini_entry *found = NULL;

	for (size_t i = 0; sec && i < sec->n; i++)
		if (!strcmp(sec->entries[i].key, key))
			found = &sec->entries[i];
	return found;
}

static int serve_check_number(const struct ini_section *sec,
			      const struct serve_number *n, int *out,
			      ps_error *err)
{
	const struct ini_entry *e = serve_find(sec, n->key);
	char hint[80];
	long v;
	char *end;

	*out = n->dflt;
	if (!e)
		return PS_OK;
	errno = 0;
	v = strtol(e->value, &end, 10);
	if (errno || end == e->value || *end || v < n->min || v > n->max) {
		snprintf(hint, sizeof(hint), "a whole number from %d to %d",
			 n->min, n->max);
		return serve_fail(err, e, hint, "bad value");
	}
	*out = (int)v;
	return PS_OK;
}

/* The listen lines, each checked; an open proxy needs allow =. */
static int serve_check_listen(const struct ini_section *sec, int have_allow,
			      size_t *count, ps_error *err)
{
	*count = 0;
	for (size_t i = 0; sec && i < sec->n; i++) {
		const struct ini_entry *e = &sec->entries[i];
		int kind;

		if (strcmp(e->key, "listen"))
			continue;
		kind = ps_serve_listen_kind(e->value);
		if (kind < 0)
			return serve_fail(err, e, "an IP address and a port:"
					  " 127.0.0.1:3128 or [::1]:3128",
					  "not ADDR:PORT");
		if (kind == 0 && !have_allow)
			return serve_fail(err, e, "add allow = the addresses"
					  " or CIDR blocks of your clients",
					  "not a loopback address and no"
					  " allow =, which would make an open"
					  " proxy:");
		if (++*count > SERVE_LISTEN_MAX)
			return serve_fail(err, e, "at most 16 listen lines",
					  "too many listen lines at");
	}
	return PS_OK;
}

/* http_forward: 0 auto, 1 tunnel, -1 neither. */
static int serve_forward_mode(const char *value)
{
	if (!strcmp(value, "auto"))
		return 0;
	return !strcmp(value, "tunnel") ? 1 : -1;
}

int serve_config_check(struct ini_doc *doc, ps_error *err)
{
	static const char *const keys[] = {
		"listen", "allow", "users_file", "access_log", "max_clients",
		"max_tunnels_per_client", "idle_timeout", "drain_timeout",
		"http_forward",
	};
	struct ini_section *sec = ini_find(doc, "serve", "");
	const struct ini_entry *allow = serve_find(sec, "allow");
	const struct ini_entry *e;
	size_t nlisten;
	int n, rc;

	if (!sec)
		return PS_OK;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ini_get(sec, keys[i]);	/* marks them: the rest are unknown */
	if (allow && ps_addr_in_list("127.0.0.1", allow->value) < 0)
		return serve_fail(err, allow, "IPs, CIDR blocks and loopback,"
				  " private, linklocal, separated by commas",
				  "not an address list");
	if ((e = serve_find(sec, "users_file")) && e->value[0] != '/')
		return serve_fail(err, e, "an absolute path",
				  "not an absolute path");
	if ((e = serve_find(sec, "access_log")) && e->value[0] != '/' &&
	    strcmp(e->value, "-"))
		return serve_fail(err, e, "an absolute path, or - for stderr",
				  "not an absolute path");
	if ((e = serve_find(sec, "http_forward")) &&
	    serve_forward_mode(e->value) < 0)
		return serve_fail(err, e, "auto (forward http:// requests to"
				  " an HTTP proxy) or tunnel (always"
				  " CONNECT)", "not auto or tunnel:");
	rc = serve_check_listen(sec, allow != NULL, &nlisten, err);
	for (size_t i = 0; rc == PS_OK && i < sizeof(serve_numbers) /
						  sizeof(serve_numbers[0]); i++)
		rc = serve_check_number(sec, &serve_numbers[i], &n, err);
	if (rc != PS_OK)
		return rc;
	return modconfig_check_unknown(sec, "[serve]", err);
}

/* ------------------------------------------------------------------ */
/* ps_ctx_serve_config: one block, struct, pointers and strings        */
/* ------------------------------------------------------------------ */

struct serve_block {
	char *next;              /* where the next string goes */
	size_t room;
};

static const char *serve_copy(struct serve_block *b, const char *s)
{
	size_t len = strlen(s) + 1;
	char *at = b->next;

	memcpy(at, s, len);
	b->next += len;
	b->room -= len;
	return at;
}

static const char *serve_value(const struct ini_section *sec,
			       const char *key)
{
	const struct ini_entry *e = serve_find(sec, key);

	return e ? e->value : NULL;
}

/* Bytes of every string the block holds (listen lines and values). */
static size_t serve_strings_size(const struct ini_section *sec, size_t *nlisten,
				 const char *source)
{
	static const char *const keys[] = { "allow", "users_file",
					    "access_log" };
	size_t size = strlen(source) + 1;

	*nlisten = 0;
	for (size_t i = 0; sec && i < sec->n; i++)
		if (!strcmp(sec->entries[i].key, "listen")) {
			size += strlen(sec->entries[i].value) + 1;
			++*nlisten;
		}
	if (*nlisten == 0)
		size += sizeof(SERVE_DEFAULT_LISTEN);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (serve_value(sec, keys[i]))
			size += strlen(serve_value(sec, keys[i])) + 1;
	return size;
}

static void serve_fill(ps_serve_config *c, const struct ini_section *sec,
		       struct serve_block *b, const char **listen)
{
	const char *log = serve_value(sec, "access_log");
	ps_error ignored;

	c->listen = listen;
	for (size_t i = 0; sec && i < sec->n; i++)
		if (!strcmp(sec->entries[i].key, "listen"))
			listen[c->nlisten++] = serve_copy(b,
						sec->entries[i].value);
	if (c->nlisten == 0)
		listen[c->nlisten++] = serve_copy(b, SERVE_DEFAULT_LISTEN);
	if (serve_value(sec, "allow"))
		c->allow = serve_copy(b, serve_value(sec, "allow"));
	if (serve_value(sec, "users_file"))
		c->users_file = serve_copy(b, serve_value(sec, "users_file"));
	if (log && strcmp(log, "-"))
		c->access_log = serve_copy(b, log);
	else if (log)
		serve_copy(b, log);	/* counted by serve_strings_size */
	if (serve_value(sec, "http_forward"))
		c->http_forward_tunnel =
			serve_forward_mode(serve_value(sec, "http_forward")) ==
			1;
	for (size_t i = 0; i < sizeof(serve_numbers) / sizeof(serve_numbers[0]);
	     i++)
		serve_check_number(sec, &serve_numbers[i],
				   (int *)((char *)c + serve_numbers[i].offset),
				   &ignored);
}

ps_serve_config *serve_config_get(struct snapshot *s, ps_error *err)
{
	const struct ini_section *sec = ini_find(&s->doc, "serve", "");
	char source[SOURCE_MAX] = "default";
	size_t nlisten, strings, head;
	struct serve_block b;
	ps_serve_config *c;

	ps_error_clear(err);
	if (sec)
		snprintf(source, sizeof(source), "%s:%d", sec->file,
			 sec->line);
	strings = serve_strings_size(sec, &nlisten, source);
	head = sizeof(*c) + (nlisten ? nlisten : 1) * sizeof(char *);
	c = calloc(1, head + strings);
	if (!c) {
		snapshot_unref(s);
		err_nomem(err);
		return NULL;
	}
	c->struct_size = sizeof(*c);
	b.next = (char *)c + head;
	b.room = strings;
	c->source = serve_copy(&b, source);
	serve_fill(c, sec, &b, (const char **)(c + 1));
	snapshot_unref(s);
	return c;
}
