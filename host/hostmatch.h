/*
 * hostmatch.h - host lists: NO_PROXY and route `match =` (internal).
 *
 * A list is comma and/or space separated.  Entries:
 *   *                    every host
 *   example.com          example.com and any name below it (label boundary)
 *   .example.com         the same (leading dot ignored, as curl does)
 *   *.example.com        the same
 *   192.0.2.1, ::1       that address, in any spelling (::0:1, [::1])
 *   10.0.0.0/8, fd00::/8 CIDR blocks, v4 and v6
 *   any of the above followed by :port ([::1]:443 for v6) -> only that port
 * Matching is case-insensitive; a trailing dot on names is ignored.
 * Empty or unparsable entries never match (and never match everything).
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) count as IPv4, on both
 * sides; a name entry never matches an IP literal host, nor an IP or
 * CIDR entry a name.  Details in hostmatch.c.
 */
#ifndef HOST_HOSTMATCH_H
#define HOST_HOSTMATCH_H

#include <stddef.h>

/*
 * 1 if host:port matches an entry of 'list', else 0.  'host' is a name
 * or an IP literal (brackets allowed).  NULL or empty list: 0.
 * Pure function, thread-safe, no allocation.
 */
int hostmatch_list(const char *list, const char *host, unsigned port);

/*
 * Check every entry of 'list' parses; on the first bad one return -1 and
 * describe it in errbuf.  Used to report config errors early.
 */
int hostmatch_validate(const char *list, char *errbuf, size_t errlen);

#endif
