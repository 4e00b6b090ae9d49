/*
 * pac_functions.h - the standard PAC functions, installed into a duktape
 * heap (internal to the pac module).
 *
 * Native (C): dnsResolve, dnsResolveEx, myIpAddress, myIpAddressEx,
 * isInNet, isInNetEx, sortIpAddressList, shExpMatch, alert (discards).
 * In JavaScript (pac_prelude.js text in pac_functions.c):
 * isPlainHostName, dnsDomainIs, localHostOrDomainIs, isResolvable,
 * isResolvableEx, dnsDomainLevels, weekdayRange, dateRange, timeRange,
 * getClientVersion.  Name lookups block: the caller runs them in the
 * evaluation's child process (pac_eval.c), never on an event loop.
 */
#ifndef MODULES_PAC_FUNCTIONS_H
#define MODULES_PAC_FUNCTIONS_H

#include <time.h>

#include <duktape.h>

#include "pac_eval.h"

/* The lookup dnsResolve and its kin use (pac_eval_set_lookup). */
void pac_functions_set_lookup(pac_lookup_fn lookup);

/*
 * Define the functions as globals of 'ctx'.  'now' (0: the real clock)
 * is the time the date functions see.  0, or -1 with the reason left on
 * the value stack.
 */
int pac_functions_install(duk_context *ctx, time_t now);

#endif
