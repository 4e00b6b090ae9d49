/*
 * fuzz_ws_handshake.c - any answer to the websocket upgrade request
 * (host/ws.c: ps_layer_read_head and ws_check_answer, through the
 * websocket layer's connect on a fake chain).
 *
 * Input: byte 0 flags, byte 1 chunking seed, then the server's answer;
 * every "@ACCEPT@" in it becomes the right Sec-WebSocket-Accept for the
 * client's random key, so the checks behind the accept are reachable.
 *   flags & 3     subprotocols offered: none, "chat", "chat, superchat",
 *                 "v2.bin.example"
 *   flags & 4     the server falls silent at the end (else it closes)
 *   flags & 8     an Origin and an extra header are sent
 *
 * Checks: no crash, leak or busy loop; the upgrade request is one clean
 * head; success only for an answer whose status line is
 * "HTTP/1.1 101", with a subprotocol that was offered (and one when any
 * was offered); a refusal is PS_ERR_WEBSOCKET_HANDSHAKE from the
 * websocket layer, with a message that says what was wrong (not an
 * empty or garbled one); bytes after a 101 head start the frame stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ws.h"

static const char *const offers[] = { NULL, "chat", "chat, superchat",
				      "v2.bin.example" };

static int offered(const char *list, const char *proto)
{
	size_t n = strlen(proto);

	for (const char *p = list; p && *p;) {
		size_t len;

		while (*p == ' ' || *p == ',')
			p++;
		len = strcspn(p, ", ");
		if (len == n && !strncmp(p, proto, n))
			return 1;
		p += len;
	}
	return 0;
}

static void check_refusal(const struct ps_conn *conn, int rc)
{
	static const char renamed[] = "upgrade answer: ";
	const ps_error *e = &conn->err;
	const char *cause;

	FUZZ_CHECK(rc == PS_ERR_WEBSOCKET_HANDSHAKE,
		   "handshake failed with %d (%s): %s", rc, ps_code_name(rc),
		   e->message);
	FUZZ_CHECK(e->code == rc && !strcmp(e->layer, "websocket") &&
			   e->hop == 1,
		   "refusal blamed on %s/%d with code %d", e->layer, e->hop,
		   e->code);
	FUZZ_CHECK(e->message[0],
		   "refusal without a message");
	if (!strncmp(e->message, renamed, sizeof(renamed) - 1)) {
		/* A broken head: the cause from ps_layer_read_head follows. */
		cause = e->message + sizeof(renamed) - 1;
		FUZZ_CHECK_KNOWN("ws-handshake-error-lost",
				 !strncmp(cause, "connection closed", 17) ||
					 !strncmp(cause,
						  "response head longer", 20),
				 "the renamed error lost its cause: '%s'",
				 e->message);
	} else {
		FUZZ_CHECK(!strncmp(e->message, "upgrade to websocket refused",
				    28),
			   "refusal message '%s'", e->message);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const headers[] = { (char *)"X-Agent: gw-7", NULL };
	struct fake_peer peer;
	struct fake_chain fc;
	struct ws_server ws;
	struct ps_conn *conn;
	unsigned flags;
	int rc;

	if (size < 2)
		return 0;
	flags = data[0];
	memset(&peer, 0, sizeof(peer));
	peer.rng = data[1];
	peer.end_again = (flags & 4) != 0;
	buf_init(&peer.sent);
	ws_server_init(&ws, &peer, data + 2, size - 2, NULL);

	fake_chain_init(&fc, &peer, WS_FUZZ_DEST, NULL, 0);
	conn = fc.conn;
	conn->opt.ws_subprotocols = (char *)offers[flags & 3];
	if (flags & 8) {
		conn->opt.ws_origin = (char *)"https://example.com";
		conn->opt.ws_headers = (char **)headers;
	}

	rc = fake_chain_run(&fc, &peer);
	if (rc == PS_OK) {
		const char *proto = ps_ws_subprotocol(conn);
		ps_ws_message m;

		FUZZ_CHECK(ws.stream.len >= 12 &&
				   !memcmp(ws.stream.data, "HTTP/1.1 101", 12),
			   "accepted an answer that is not a 101");
		/* Compared exactly, as browsers do: the name the
		 * application gets back is one it offered. */
		FUZZ_CHECK_KNOWN("ws-subprotocol-case",
				 offers[flags & 3]
					 ? offered(offers[flags & 3], proto)
					 : !proto[0],
				 "subprotocol '%s' accepted, offered '%s'",
				 proto,
				 offers[flags & 3] ? offers[flags & 3]
						   : "(none)");
		/* What came with the head is the first of the frames. */
		for (int i = 0; i < 1000; i++) {
			rc = ps_ws_recv(conn, &m);
			if (rc != PS_AGAIN || peer.stalls >= 2)
				break;
		}
		FUZZ_CHECK(rc == PS_OK || rc == PS_AGAIN ||
				   rc == PS_ERR_WEBSOCKET || rc == PS_ERR_IO,
			   "first recv after the 101: %d", rc);
	} else if (rc != PS_AGAIN) {
		check_refusal(conn, rc);
	}
	ws_check_client_frames(&ws, &peer.sent);
	fake_chain_free(&fc);
	buf_free(&peer.sent);
	buf_free(&ws.stream);
	return 0;
}
