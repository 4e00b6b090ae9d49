/*
 * fuzz_connect_answer.c - the proxy's answer to CONNECT
 * (modules/http1_connect.c, through the real http-connect module).
 *
 * The http-connect module is linked in and configured from a section
 * (modconfig_run, as the snapshot does); a fake chain puts it on top of
 * the fake peer, and the real chain driver steps it.  The proxy's bytes
 * come from the input, cut into pieces (fuzz_common.h); a 407 that
 * closes the connection makes the driver rebuild the peer below, and the
 * answer goes on with the next input bytes.
 *
 * Input: byte 0 flags, byte 1 chunking seed, then the proxy's bytes.
 *   flags & 3        credentials: none, alice:CANARY in the URL, alice
 *                    with no password, alice and a 600-byte password
 *   (flags >> 2) & 3 auth = auto, basic, digest, auto
 *   flags & 0x10     the proxy falls silent at the end (else it closes)
 *   flags & 0x20     an extra header line is configured
 *   flags & 0x40     the destination is an IPv6 literal
 *   flags & 0x80     a second connection on the same instance (after a
 *                    Basic success it sends credentials at once)
 *
 * Checks: no crash, leak or busy loop; every request sent is one CONNECT
 * head of printable lines ending in CRLF (the proxy's Digest parameters
 * cannot inject lines); Basic is never sent with auth = digest, nor
 * credentials when none are configured; at most 4 requests and 3
 * reconnects; a failure carries a proxy error code, the layer and a
 * message that holds neither the password nor the Basic token; after a
 * 2xx, the bytes that followed the head come out of the tunnel, none
 * lost or reordered.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "modconfig.h"

#define CANARY "Zq9xK7pW"

extern const struct ps_module proxystack_module;

struct run {
	unsigned flags;
	const uint8_t *answer;
	size_t answer_len;
	const char *target;     /* as the request line must name it */
	char basic_token[1200]; /* base64 of user:password, or "" */
	int has_password;
};

/* What memmem finds, as a C-string test on a buffer. */
static int holds(const void *hay, size_t len, const char *needle)
{
	return needle[0] && memmem(hay, len, needle, strlen(needle)) != NULL;
}

/* RFC 9110 tchar (an RFC 8187 ext-value, username*=, is made of them). */
static int is_tchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/*
 * A Digest answer line: name=value pairs joined by ", ", each name of
 * letters, digits, '-' and '*', each value a token or an RFC 9110
 * quoted-string: qdtext (HTAB, SP, VCHAR but '"' and '\', obs-text) or
 * quoted-pairs, never a control byte.  Values echoed from the challenge
 * keep their bytes (the hash is over them) and are quoted again.  1 if
 * so.
 */
static int digest_line_ok(const char *p, size_t len)
{
	size_t i = strlen("Proxy-Authorization: Digest ");

	while (i < len) {
		while (i < len && p[i] != '=') {
			if (!isalnum((unsigned char)p[i]) && p[i] != '-' &&
			    p[i] != '*')
				return 0;
			i++;
		}
		if (++i >= len)
			return 0;
		if (p[i] == '"') {
			for (i++; i < len && p[i] != '"'; i++) {
				unsigned char c = (unsigned char)p[i];

				if (c == '\\' && ++i >= len)
					return 0;
				c = (unsigned char)p[i];
				if ((c < 0x20 && c != '\t') || c == 0x7f)
					return 0;
			}
			if (i++ >= len)
				return 0;
		} else {
			size_t start = i;

			while (i < len && is_tchar((unsigned char)p[i]) &&
			       p[i] != ',')
				i++;
			if (i == start)
				return 0;
		}
		if (i == len)
			return 1;
		if (len - i < 3 || p[i] != ',' || p[i + 1] != ' ')
			return 0;
		i += 2;
	}
	return 0;
}

/* One request head the module sent, [p, p+len), ending in CRLF CRLF. */
static void check_request(const struct run *r, const char *p, size_t len)
{
	char line0[400], esc[600];
	int auth = (r->flags >> 2) & 3;

	snprintf(line0, sizeof(line0), "CONNECT %s HTTP/1.1\r\n", r->target);
	FUZZ_CHECK(len >= strlen(line0) && !memcmp(p, line0, strlen(line0)),
		   "request does not start with '%s': %s", line0,
		   fuzz_escape(p, len < 100 ? len : 100, esc, sizeof(esc)));
	/* CRLF only; printable bytes; Digest answers well-formed. */
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\r')
			FUZZ_CHECK(i + 1 < len && p[i + 1] == '\n',
				   "bare CR in the request at %zu: %s", i,
				   fuzz_escape(p, len, esc, sizeof(esc)));
		if (p[i] == '\n')
			FUZZ_CHECK(i > 0 && p[i - 1] == '\r',
				   "bare LF in the request at %zu: %s", i,
				   fuzz_escape(p, len, esc, sizeof(esc)));
	}
	for (const char *l = p; l < p + len;) {
		const char *e = memmem(l, (size_t)(p + len - l), "\r\n", 2);
		size_t ll = e ? (size_t)(e - l) : (size_t)(p + len - l);

		if (ll > 28 &&
		    !memcmp(l, "Proxy-Authorization: Digest ", 28)) {
			/* Built from the proxy's challenge. */
			FUZZ_CHECK_KNOWN("digest-param-unfiltered",
					 digest_line_ok(l, ll),
					 "malformed Digest answer: %s",
					 fuzz_escape(l, ll, esc, sizeof(esc)));
		} else {
			for (size_t i = 0; i < ll; i++)
				FUZZ_CHECK(l[i] >= 0x20 && l[i] < 0x7f,
					   "byte 0x%02x in request line %s",
					   (unsigned char)l[i],
					   fuzz_escape(l, ll, esc,
						       sizeof(esc)));
		}
		if (!e)
			break;
		l = e + 2;
	}
	if (auth == 2)
		FUZZ_CHECK(!holds(p, len, "\r\nProxy-Authorization: Basic"),
			   "auth = digest, yet Basic credentials were sent");
	if ((r->flags & 3) == 0)
		FUZZ_CHECK(!holds(p, len, "\r\nProxy-Authorization"),
			   "credentials sent without any configured");
}

/* Split what was sent into request heads; returns how many. */
static int check_requests(const struct run *r, const struct buf *sent)
{
	const char *p = sent->data, *end = p ? p + sent->len : NULL;
	int n = 0;

	while (p && p < end) {
		const char *stop = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);

		if (!stop)
			break;	/* a request still being sent: fine */
		check_request(r, p, (size_t)(stop + 4 - p));
		p = stop + 4;
		n++;
	}
	return n;
}

static void check_failure(const struct run *r, const struct ps_conn *conn,
			  int rc)
{
	const ps_error *e = &conn->err;
	/* A 600-byte password does not fit Basic or Digest: a config
	 * error, before or after the proxy asked. */
	int too_long = (r->flags & 3) == 3 && rc == PS_ERR_CONFIG &&
		       strstr(e->message, "credentials are too long");

	FUZZ_CHECK(rc == PS_ERR_PROXY_PROTOCOL || rc == PS_ERR_PROXY_AUTH ||
			   rc == PS_ERR_PROXY_DENIED || too_long,
		   "CONNECT failed with %d (%s): %s", rc, ps_code_name(rc),
		   e->message);
	FUZZ_CHECK(e->code == rc, "error code %d, returned %d", e->code, rc);
	FUZZ_CHECK(e->message[0], "failure without a message");
	FUZZ_CHECK(!strcmp(e->layer, "http-connect") && e->hop == 1,
		   "failure blamed on %s at hop %d", e->layer, e->hop);
	/* The proxy may say anything; we must not say the password. */
	if (!holds(r->answer, r->answer_len, CANARY))
		FUZZ_CHECK(!strstr(e->message, CANARY) &&
				   !strstr(e->hint, CANARY),
			   "the password is in the error: %s", e->message);
	if (r->basic_token[0] &&
	    !holds(r->answer, r->answer_len, r->basic_token))
		FUZZ_CHECK(!strstr(e->message, r->basic_token),
			   "the Basic token is in the error: %s",
			   e->message);
}

/* After a 2xx: the rest of the stream comes out of the tunnel whole. */
static void check_tunnel(const struct run *r, struct fake_chain *fc,
			 struct fake_peer *peer)
{
	struct ps_layer *top = &fc->conn->layers[fc->conn->nlayers - 1];
	struct buf got;
	char chunk[4096];

	FUZZ_CHECK(fc->conn->state == CONN_READY, "PS_OK but not ready");
	FUZZ_CHECK(top->detail[0], "no detail for the established layer");
	buf_init(&got);
	for (int i = 0; i < 100000; i++) {
		size_t n;
		int rc = layer_recv(top, chunk, sizeof(chunk), &n);

		if (rc == PS_AGAIN) {
			if (peer->stalls >= 2)
				break;
			continue;
		}
		FUZZ_CHECK(rc == PS_OK, "tunnel read failed: %d", rc);
		if (n == 0)
			break;
		buf_append(&got, chunk, n);
	}
	FUZZ_CHECK(got.len <= r->answer_len, "the tunnel made up bytes");
	FUZZ_CHECK(peer->data == r->answer, "peer data changed");
	FUZZ_CHECK(got.len == 0 ||
			   !memcmp(got.data,
				   r->answer + r->answer_len - got.len,
				   got.len),
		   "tunnel bytes are not the end of the stream (lost or"
		   " reordered bytes)");
	FUZZ_CHECK(r->answer_len > got.len &&
			   r->answer[r->answer_len - got.len - 1] == '\n',
		   "the tunnel does not start right after an answer head"
		   " (%zu tunnel bytes)", got.len);
	buf_free(&got);
}

static void one_connection(struct run *r, struct instance *inst)
{
	struct fake_peer peer;
	struct fake_chain fc;
	int rc, requests;

	memset(&peer, 0, sizeof(peer));
	peer.data = r->answer;
	peer.len = r->answer_len;
	peer.rng = r->flags >> 8;
	peer.end_again = (r->flags & 0x10) != 0;
	buf_init(&peer.sent);

	fake_chain_init(&fc, &peer, r->flags & 0x40
					   ? "tcp://[2001:db8::7]:443"
					   : "tcp://example.com:443",
			&inst, 1);
	rc = fake_chain_run(&fc, &peer);
	requests = check_requests(r, &peer.sent);
	FUZZ_CHECK(requests <= 4, "%d CONNECT requests", requests);
	FUZZ_CHECK(peer.opens <= 4, "%d connections to the proxy",
		   peer.opens);
	if (rc == PS_OK)
		check_tunnel(r, &fc, &peer);
	else if (rc != PS_AGAIN)
		check_failure(r, fc.conn, rc);
#ifdef CONNECT_ANSWER_SEEN
	/* tests/unit/test_connect_answer.c replays the corpus and asserts
	 * what each answer ends in: it sees every connection here. */
	CONNECT_ANSWER_SEEN(rc, requests, peer.opens);
#endif
	fake_chain_free(&fc);
	buf_free(&peer.sent);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const policies[] = { "auto", "basic", "digest",
						"auto" };
	char url[1024], plain[900], longpw[601];
	struct loaded_module mod;
	struct instance inst;
	struct ini_doc doc;
	struct run r;
	ps_error err;

	if (size < 2)
		return 0;
	memset(&r, 0, sizeof(r));
	r.flags = data[0] | (unsigned)data[1] << 8;
	r.answer = data + 2;
	r.answer_len = size - 2;
	r.target = r.flags & 0x40 ? "[2001:db8::7]:443" : "example.com:443";

	memset(longpw, 'p', 600);
	longpw[600] = '\0';
	switch (r.flags & 3) {
	case 0:
		snprintf(url, sizeof(url), "http://proxy.example:3128");
		break;
	case 1:
		snprintf(url, sizeof(url),
			 "http://alice:" CANARY "@proxy.example:3128");
		snprintf(plain, sizeof(plain), "alice:" CANARY);
		break;
	case 2:
		snprintf(url, sizeof(url), "http://alice@proxy.example:3128");
		snprintf(plain, sizeof(plain), "alice:");
		break;
	default:
		snprintf(url, sizeof(url),
			 "http://alice:%s" CANARY "@proxy.example:3128",
			 longpw);
		snprintf(plain, sizeof(plain), "alice:%s" CANARY, longpw);
		break;
	}
	if (r.flags & 3)
		ps_base64_encode(plain, strlen(plain), r.basic_token,
				 sizeof(r.basic_token));

	/* The section, as the snapshot would hand it to the module. */
	memset(&doc, 0, sizeof(doc));
	if (ini_add(&doc, "transport", "corp", "module", "http-connect",
		    "fuzz.conf", 1) ||
	    ini_add(&doc, "transport", "corp", "url", url, "fuzz.conf", 2) ||
	    ini_add(&doc, "transport", "corp", "auth",
		    policies[(r.flags >> 2) & 3], "fuzz.conf", 3) ||
	    ((r.flags & 0x20) &&
	     ini_add(&doc, "transport", "corp", "header", "X-Site: plant-7",
		     "fuzz.conf", 4)))
		abort();
	memset(&mod, 0, sizeof(mod));
	mod.name = (char *)"http-connect";
	mod.desc = &proxystack_module;
	mod.ops = *proxystack_module.ops;
	memset(&inst, 0, sizeof(inst));
	inst.kind = (char *)"transport";
	inst.name = (char *)"corp";
	inst.mod = &mod;
	inst.display = (char *)"http-connect(http://proxy.example:3128)";
	inst.proxy_host = (char *)"proxy.example";
	inst.proxy_port = 3128;
	ps_error_clear(&err);
	if (modconfig_run(fake_snapshot(), &inst, &doc.sections[0], &err) !=
	    PS_OK)
		fuzz_fail("configure: %s", err.message);

	one_connection(&r, &inst);
	if (r.flags & 0x80)
		one_connection(&r, &inst);

	mod.ops.unconfigure(inst.state);
	ini_doc_free(&doc);
	return 0;
}
